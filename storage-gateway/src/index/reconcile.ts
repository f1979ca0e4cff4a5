import { segmentKind } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { BufferStore } from '../buffer/buffer-store.ts';
import { digestFile, removeFile } from '../files/durable-fs.ts';
import type { SegmentFiles } from '../files/segment-files.ts';
import type { BacklogItem } from '../nas/backlog-queue.ts';
import type { NasClient } from '../nas/nas-client.ts';
import type { SegmentRecord, SegmentRepository } from './segment-repository.ts';

export interface ReconcileReport {
  /** Segments found waiting in the buffer: the NAS backlog. */
  backlog: BacklogItem[];
  /** Media files in the buffer without a row: never acknowledged (the agent sends them again). */
  bufferOrphans: string[];
  /**
   * Buffered copies of segments whose row says `nas` (verified there), removed: the mover's
   * unlink of them is not fsynced, so a power cut can bring one back.
   */
  bufferReleased: string[];
  /** Media files on the NAS without a row. */
  nasOrphans: string[];
  /** Rows whose file is in neither place; marked `missing` (a re-upload heals them). */
  missing: string[];
  /** Rows marked missing earlier whose file is back on the NAS. */
  recovered: string[];
  /** Temp files of copies cut short (older than TEMP_AGE_MS) removed from the NAS. */
  tempRemoved: number;
  /** Why the NAS side was not checked, when it was not. */
  nasSkipped: string | null;
}

const SAMPLE = 20;
/** A temp file this old on the NAS belongs to no copy in progress (those take seconds). */
const TEMP_AGE_MS = 10 * 60_000;

/**
 * Start-up reconciliation of the index with the files. `buffered()` is fast and local and gives
 * the NAS backlog; `nasSide()` lists the NAS through the worker and can run in the background.
 */
export class Reconciler {
  constructor(
    private readonly deps: {
      index: SegmentRepository;
      buffer: BufferStore;
      files: SegmentFiles;
      nas: Pick<NasClient, 'list' | 'cameras' | 'probe' | 'cleanTemp'>;
      logger: Logger;
      /** This gateway's id (`GATEWAY_ID`): the buffered rows it owns. */
      gatewayId: string;
    },
  ) {}

  /**
   * Rows in the buffer vs files in the buffer; returns the backlog in recording order. With
   * several gateways on one database, only this gateway's rows (and those from before gateways
   * had ids, of cameras with a folder in this buffer) are judged: another's buffered rows are
   * in its own buffer, never marked missing here.
   */
  async buffered(report: ReconcileReport = emptyReport()): Promise<ReconcileReport> {
    const { index, buffer, files, nas, logger, gatewayId } = this.deps;
    const onDisk = new Map((await buffer.scan()).map((f) => [`${f.camera}/${f.name}`, f]));
    // Cameras this gateway has taken uploads for (their buffer folder is never removed).
    const ours = new Set(await buffer.cameras());
    const gone: { camera: string; name: string }[] = [];
    const backlog = (row: SegmentRecord & { createdAt: Date }, bytes: number) =>
      report.backlog.push({
        camera: row.cameraId,
        name: row.name,
        sha256: row.sha256,
        bytes,
        timeMs: row.startAt.getTime(),
        arrivedMs: row.createdAt.getTime(),
      });
    for (const row of await index.listBuffered(gatewayId)) {
      const key = `${row.cameraId}/${row.name}`;
      const file = onDisk.get(key);
      onDisk.delete(key);
      if (file) backlog(row, file.bytes);
      else if (row.gatewayId === gatewayId || ours.has(row.cameraId))
        gone.push({ camera: row.cameraId, name: row.name });
    }
    const unlisted: { camera: string; name: string; bytes: number }[] = [];
    for (const file of onDisk.values()) {
      if (segmentKind(file.name) === 'init') {
        // Init files are not indexed: the buffered file is the record, hashed as it is now.
        const { sha256 } = await digestFile(files.bufferPath(file.camera, file.name));
        report.backlog.push({ ...file, sha256, timeMs: 0, arrivedMs: file.mtimeMs });
      } else unlisted.push(file);
    }
    for (const [camera, list] of groupByCamera(unlisted)) {
      const rows = new Map(
        (
          await index.among(
            camera,
            list.map((f) => f.name),
          )
        ).map((r) => [r.name, r]),
      );
      for (const { name, bytes } of list) {
        const row = rows.get(name);
        if (row?.location === 'buffer') {
          // Another gateway's row, with a copy here too (an upload sent again after a failover):
          // the same acknowledged bytes, moved like ours; whichever copy gets there first wins.
          backlog(row, bytes);
        } else if (row?.location === 'nas') {
          await removeFile(files.bufferPath(camera, name));
          report.bufferReleased.push(`${camera}/${name}`);
        } else report.bufferOrphans.push(`${camera}/${name}`);
      }
    }
    // A row says buffer but the file is not there: the move finished (crash before the index
    // was told) or the file is lost.
    for (const [camera, rows] of groupByCamera(gone)) {
      const names = rows.map((r) => r.name);
      const listed = await nas.list(camera).catch(() => null);
      if (!listed) {
        logger.warn({ cameraId: camera, rows: names.length }, 'NAS not readable: rows left as they are');
        continue;
      }
      const there = new Set(listed);
      const onNas = names.filter((n) => there.has(n));
      const lost = names.filter((n) => !there.has(n));
      await index.setLocations(camera, onNas, 'nas');
      await index.setLocations(camera, lost, 'missing', { location: 'buffer', gatewayId });
      report.missing.push(...lost.map((n) => `${camera}/${n}`));
    }
    report.backlog.sort((a, b) => a.timeMs - b.timeMs || a.arrivedMs - b.arrivedMs);
    return report;
  }

  /** Rows on the NAS vs files on the NAS, camera by camera. */
  async nasSide(report: ReconcileReport = emptyReport()): Promise<ReconcileReport> {
    const { index, nas } = this.deps;
    try {
      await nas.probe();
    } catch (err) {
      report.nasSkipped = `NAS not available: ${(err as Error).message}`;
      return report;
    }
    const cameras = new Set([
      ...(await nas.cameras()),
      ...(await index.camerasAt('nas')),
      ...(await index.camerasAt('missing')),
    ]);
    for (const camera of cameras) {
      // Rows before the listing: a row that says `nas` now had its file there before the list
      // was taken, so segments the mover finishes meanwhile are never taken for lost ones.
      const rows = await index.namesAt(camera, 'nas');
      const wasMissing = await index.namesAt(camera, 'missing');
      const listed = new Set(await nas.list(camera));
      if (listed.size === 0 && rows.length > 0) {
        // An empty folder for a camera with footage looks like the wrong share, not a loss.
        report.nasSkipped = `NAS folder of ${camera} is empty but ${rows.length} rows say it holds files`;
        continue;
      }
      const lost = rows.filter((n) => !listed.has(n));
      const back = wasMissing.filter((n) => listed.has(n));
      // Rows after the listing, for orphans: a file the mover put there meanwhile has its row.
      const known = new Set([
        ...rows,
        ...back,
        ...(await index.namesAt(camera, 'nas')),
        ...(await index.namesAt(camera, 'buffer')),
      ]);
      await index.setLocations(camera, lost, 'missing');
      await index.setLocations(camera, back, 'nas');
      report.missing.push(...lost.map((n) => `${camera}/${n}`));
      report.recovered.push(...back.map((n) => `${camera}/${n}`));
      for (const name of listed)
        if (segmentKind(name) === 'media' && !known.has(name)) report.nasOrphans.push(`${camera}/${name}`);
      report.tempRemoved += await nas.cleanTemp(camera, TEMP_AGE_MS);
    }
    return report;
  }

  /** One log line per finding kind, with a sample of names. */
  log(report: ReconcileReport, part: 'buffer' | 'nas'): void {
    const { logger } = this.deps;
    const sample = (list: string[]) => list.slice(0, SAMPLE);
    if (report.missing.length > 0)
      logger.error(
        { part, count: report.missing.length, sample: sample(report.missing) },
        'indexed segments missing: marked missing',
      );
    if (report.bufferOrphans.length > 0)
      logger.warn(
        { count: report.bufferOrphans.length, sample: sample(report.bufferOrphans) },
        'buffered media without an index row (never acknowledged); kept until re-uploaded',
      );
    if (report.bufferReleased.length > 0)
      logger.info(
        { count: report.bufferReleased.length, sample: sample(report.bufferReleased) },
        'removed buffered copies of segments already on the NAS (a move cut short by a crash)',
      );
    if (report.nasOrphans.length > 0)
      logger.warn(
        { count: report.nasOrphans.length, sample: sample(report.nasOrphans) },
        'NAS media without an index row',
      );
    if (report.recovered.length > 0)
      logger.info(
        { count: report.recovered.length, sample: sample(report.recovered) },
        'missing segments found on the NAS again',
      );
    if (report.tempRemoved > 0)
      logger.info({ count: report.tempRemoved }, 'removed temp files of unfinished NAS copies');
    if (report.nasSkipped) logger.warn({ reason: report.nasSkipped }, 'NAS reconciliation skipped');
  }
}

export function emptyReport(): ReconcileReport {
  return {
    backlog: [],
    bufferOrphans: [],
    bufferReleased: [],
    nasOrphans: [],
    missing: [],
    recovered: [],
    tempRemoved: 0,
    nasSkipped: null,
  };
}

function groupByCamera<T extends { camera: string }>(items: T[]): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const list = map.get(item.camera) ?? [];
    list.push(item);
    map.set(item.camera, list);
  }
  return map;
}
