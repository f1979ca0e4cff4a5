import type { Metadata } from 'next';
import { ExportPanel } from '@/features/exports/export-panel';
import { fetchCameras, fetchSessionUser } from '@/lib/master-api';
import './exports.css';

export const dynamic = 'force-dynamic';

export const metadata: Metadata = { title: 'Exports · CCTV control room' };

interface Props {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v) ?? null;
const time = (v: string | null) => {
  const ms = v ? Date.parse(v) : Number.NaN;
  return Number.isFinite(ms) ? ms : null;
};

/**
 * MP4 exports of recordings: `?camera=&from=&to=` (ISO times) prefill the form, as the
 * timeline's "Export this range" link does. The master allows operators and admins only.
 */
export default async function ExportsPage({ searchParams }: Props) {
  const q = await searchParams;
  const prefill = { camera: one(q.camera), from: time(one(q.from)), to: time(one(q.to)) };
  const back = new URLSearchParams(
    Object.entries(prefill).flatMap(([k, v]) =>
      v === null ? [] : [[k, k === 'camera' ? String(v) : new Date(v).toISOString()]],
    ),
  ).toString();
  const [cameras, user] = await Promise.all([
    fetchCameras(`/exports${back ? `?${back}` : ''}`),
    fetchSessionUser(),
  ]);
  return (
    <section className="panel" data-testid="exports-page">
      <div className="panel-head">
        <div>
          <h1>Exports</h1>
          <p className="sub" style={{ margin: 0 }}>
            An MP4 of one camera's recording, copied as recorded (no re-encoding), for up to an hour.
          </p>
        </div>
      </div>
      {cameras.ok ? null : <p className="notice">Master unreachable: {cameras.error}</p>}
      <ExportPanel
        cameras={cameras.ok ? cameras.value : []}
        prefill={prefill}
        viewer={user?.role === 'viewer'}
      />
    </section>
  );
}
