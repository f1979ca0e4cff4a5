'use client';

import type { CameraView, NodeView, WallLayout, WallSettings } from '@cctv/protocol';
import { WALL_LAYOUTS } from '@cctv/protocol/patterns';
import Link from 'next/link';
import { useEffect, useRef, useState } from 'react';
import { useFleet } from '@/features/fleet/fleet-socket';
import { columnsOf, swapTiles, withLayout } from '@/features/live/wall';
import { masterFetch } from '@/lib/master-fetch';
import { StateBadge } from '../../components/state-badge';
import { LivePlayer } from './live-player';

interface Props {
  masterPublicUrl: string;
  initialNodes: NodeView[];
  cameras: CameraView[];
  initialWall: WallSettings;
}

type SaveState = 'saved' | 'saving' | 'failed';

/**
 * The live wall: 1, 4, 9 or 16 tiles, each a camera live (WebRTC first, HLS fallback), with its
 * node and state kept current by the fleet websocket. Tiles are rearranged by dragging one onto
 * another (or with the arrow buttons from the keyboard); the layout and cameras are saved on
 * the master for this user, so the wall looks the same on every screen they sign in to.
 */
export function LiveWall({ masterPublicUrl, initialNodes, cameras, initialWall }: Props) {
  const { nodes } = useFleet(masterPublicUrl, initialNodes);
  const [wall, setWall] = useState(initialWall);
  const [save, setSave] = useState<SaveState>('saved');
  const dragFrom = useRef<number | null>(null);
  const first = useRef(true);

  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    setSave('saving');
    const timer = setTimeout(() => {
      masterFetch('settingPut', { params: { key: 'wall' }, body: wall })
        .then((res) => setSave(res.ok ? 'saved' : 'failed'))
        .catch(() => setSave('failed'));
    }, 300);
    return () => clearTimeout(timer);
  }, [wall]);

  const cameraOf = (id: string | null) => (id ? cameras.find((c) => c.id === id) : undefined);
  const nodeOf = (camera: CameraView | undefined) => nodes.find((n) => n.id === camera?.nodeId);
  const setTile = (i: number, id: string | null) =>
    setWall((w) => ({ ...w, tiles: w.tiles.map((t, j) => (j === i ? id : t)) }));
  const move = (from: number, to: number) => {
    if (to >= 0 && to < wall.layout && from !== to) setWall((w) => swapTiles(w, from, to));
  };

  return (
    <section className="wall" data-testid="live-wall" data-layout={wall.layout}>
      <div className="wall-bar">
        <h1>Live wall</h1>
        <fieldset className="range-picker" aria-label="Layout">
          {WALL_LAYOUTS.map((n: WallLayout) => (
            <button
              key={n}
              type="button"
              className={n === wall.layout ? 'active' : ''}
              aria-pressed={n === wall.layout}
              onClick={() => setWall((w) => withLayout(w, n))}
              data-testid={`layout-${n}`}
            >
              {`${columnsOf(n)}×${columnsOf(n)}`}
            </button>
          ))}
        </fieldset>
        <span className={`player-status wall-save-${save}`} data-testid="wall-save" data-state={save}>
          {save === 'saved' ? 'layout saved' : save === 'saving' ? 'saving…' : 'layout not saved'}
        </span>
      </div>
      {cameras.length === 0 ? (
        <p className="notice">No camera is in your access list, so the wall is empty.</p>
      ) : null}
      <div className="wall-grid" style={{ gridTemplateColumns: `repeat(${columnsOf(wall.layout)}, 1fr)` }}>
        {wall.tiles.map((id, i) => {
          const camera = cameraOf(id);
          const node = nodeOf(camera);
          const live = node?.cameras.find((c) => c.id === id);
          const state = !camera ? null : live && node?.state !== 'offline' ? live.state : 'offline';
          return (
            // biome-ignore lint/a11y/noStaticElementInteractions: the arrow buttons do the same from the keyboard
            <div
              // A tile is its position; a new camera in it is a new player.
              // biome-ignore lint/suspicious/noArrayIndexKey: the position is the tile's identity
              key={`${i}-${id ?? 'empty'}`}
              className="wall-tile"
              data-testid="wall-tile"
              data-camera-id={id ?? ''}
              draggable={id !== null}
              onDragStart={(e) => {
                dragFrom.current = i;
                e.dataTransfer.effectAllowed = 'move';
                e.dataTransfer.setData('text/plain', String(i));
              }}
              onDragOver={(e) => e.preventDefault()}
              onDrop={(e) => {
                e.preventDefault();
                const from = dragFrom.current ?? Number(e.dataTransfer.getData('text/plain'));
                dragFrom.current = null;
                if (Number.isInteger(from)) move(from, i);
              }}
            >
              <header className="wall-tile-head">
                <span className="wall-tile-name" title={camera?.name}>
                  {camera ? (
                    <Link href={`/cameras/${encodeURIComponent(camera.id)}`}>{camera.name || camera.id}</Link>
                  ) : (
                    'empty'
                  )}
                </span>
                {camera ? (
                  <span className="sub mono" data-testid="wall-tile-node">
                    {camera.nodeId}
                  </span>
                ) : null}
                {state ? <StateBadge state={state} /> : null}
                <span className="wall-tile-tools">
                  <button
                    type="button"
                    className="button-quiet"
                    aria-label={`Move tile ${i + 1} back`}
                    onClick={() => move(i, i - 1)}
                    disabled={i === 0}
                  >
                    ◀
                  </button>
                  <button
                    type="button"
                    className="button-quiet"
                    aria-label={`Move tile ${i + 1} forward`}
                    onClick={() => move(i, i + 1)}
                    disabled={i === wall.layout - 1}
                  >
                    ▶
                  </button>
                  <button
                    type="button"
                    className="button-quiet"
                    aria-label={`Tile ${i + 1} fullscreen`}
                    data-testid="wall-tile-fullscreen"
                    disabled={!camera}
                    onClick={(e) => void e.currentTarget.closest('.wall-tile')?.requestFullscreen()}
                  >
                    Fullscreen
                  </button>
                </span>
              </header>
              <label className="wall-tile-pick">
                <span className="visually-hidden">Camera of tile {i + 1}</span>
                <select
                  value={id ?? ''}
                  onChange={(e) => setTile(i, e.target.value || null)}
                  data-testid="wall-tile-select"
                >
                  <option value="">— no camera —</option>
                  {cameras.map((c) => (
                    <option key={c.id} value={c.id}>
                      {c.name || c.id} ({c.nodeId})
                    </option>
                  ))}
                </select>
              </label>
              {camera ? (
                <LivePlayer cameraId={camera.id} masterPublicUrl={masterPublicUrl} compact />
              ) : (
                <div className="wall-tile-empty video" />
              )}
            </div>
          );
        })}
      </div>
    </section>
  );
}
