import type { Readable } from 'node:stream';
import { isValidId, type SegmentKind, segmentKind } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { UploadAuth } from '../auth/upload-auth.ts';
import { BufferFullError, type BufferStore } from '../buffer/buffer-store.ts';
import { BodyAbortedError, BodyTooLargeError, type ReceivedBody } from '../files/durable-store.ts';
import type { KeyedLock } from '../files/keyed-lock.ts';
import type { SegmentFiles, SegmentLocation } from '../files/segment-files.ts';
import type { SegmentWriter } from '../index/segment-writer.ts';
import { IngestError, type RejectReason } from './ingest-error.ts';
import { declaredLength, readSegmentHeaders, type SegmentHeaders } from './upload-headers.ts';

/**
 * Retry-After of a `nas_behind` refusal: the mover frees room within a second, and a longer
 * wait leaves it idle while the refused agents sleep.
 */
const NAS_BEHIND_RETRY_AFTER_S = 1;

export interface UploadRequest {
  camera: string;
  name: string;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** The client's address, for security alerts. */
  address?: string;
}

export interface StoredSegment {
  camera: string;
  name: string;
  kind: SegmentKind;
  sha256: string;
  bytes: number;
  location: SegmentLocation;
  /** Media: the recording start (ms since the epoch); init: null. */
  startMs: number | null;
}

/** `created`: first acknowledgement (201); `exists`: an identical re-PUT (200). */
export interface UploadResult {
  status: 'created' | 'exists';
  segment: StoredSegment;
}

export interface IngestServiceOptions {
  buffer: BufferStore;
  files: SegmentFiles;
  index: Pick<SegmentWriter, 'lookup' | 'insert' | 'setLocation'>;
  lock: KeyedLock;
  /** This gateway's id (`GATEWAY_ID`), recorded on the rows of segments its buffer takes. */
  gatewayId: string;
  maxSegmentBytes: number;
  /** Checks the node's upload token; null lets any upload in (GATEWAY_UPLOAD_AUTH=off). */
  auth: UploadAuth | null;
  /** sha256 of a file on the NAS, read by the NAS worker (ingest never touches the NAS itself). */
  nasDigest: (camera: string, name: string) => Promise<{ sha256: string; bytes: number } | null>;
  /** `Retry-After` (seconds) of a 503 when the buffer is full. */
  retryAfterS: number;
  /**
   * True while the NAS mover is further behind a healthy NAS than the gateway allows: uploads
   * are refused (503 `nas_behind`, Retry-After) until it catches up, so the buffer keeps its
   * room for NAS outages instead of filling with what the mover cannot keep up with.
   */
  nasBehind?: () => boolean;
  logger: Logger;
  /** A segment is durable in the buffer and indexed; the NAS mover should pick it up. */
  onStored?: (segment: StoredSegment) => void;
  onRejected?: (reason: RejectReason, camera: string) => void;
}

/**
 * Takes an uploaded segment to "acknowledged means durable": body in a temp file, sha256
 * checked, fsynced, renamed into the buffer, indexed. Idempotent by camera and name.
 */
export class IngestService {
  /** Init files uploaded lately (camera/name → ms): their segments may not be indexed yet. */
  private readonly initsSeen = new Map<string, number>();

  constructor(private readonly opts: IngestServiceOptions) {}

  /** True when the init file was uploaded (or re-uploaded) within the last `withinMs`. */
  initRecentlyUsed(camera: string, name: string, withinMs = 3_600_000): boolean {
    const at = this.initsSeen.get(`${camera}/${name}`);
    return at !== undefined && Date.now() - at < withinMs;
  }

  private noteInit(camera: string, name: string): void {
    const now = Date.now();
    if (this.initsSeen.size >= 10_000)
      for (const [key, at] of this.initsSeen) if (now - at >= 3_600_000) this.initsSeen.delete(key);
    this.initsSeen.set(`${camera}/${name}`, now);
  }

  /** Validates the request line and headers before any body byte is read. */
  precheck(
    camera: string,
    name: string,
    headers: UploadRequest['headers'],
  ): SegmentHeaders & { kind: SegmentKind } {
    try {
      if (!isValidId(camera))
        throw new IngestError('bad_camera', `camera id ${JSON.stringify(camera)} is not valid`);
      const kind = segmentKind(name);
      if (!kind)
        throw new IngestError(
          'bad_name',
          `segment name ${JSON.stringify(name)} must be a plain *.m4s or *.mp4 name`,
        );
      const declared = declaredLength(headers);
      if (declared !== null && declared > this.opts.maxSegmentBytes)
        throw new IngestError('too_large', `segment body exceeds ${this.opts.maxSegmentBytes} bytes`);
      return { ...readSegmentHeaders(kind, headers, (m) => new IngestError('bad_headers', m)), kind };
    } catch (err) {
      throw this.rejected(err, camera);
    }
  }

  async upload(req: UploadRequest): Promise<UploadResult> {
    const meta = this.precheck(req.camera, req.name, req.headers);
    const log = this.opts.logger.child({ cameraId: req.camera, segment: req.name });
    if (this.opts.auth) {
      const checked = await this.opts.auth.check(req.headers, req.camera, req.address ?? null);
      if (!('nodeId' in checked))
        throw this.rejected(new IngestError(checked.code, checked.message), req.camera);
    }
    if (this.opts.nasBehind?.())
      throw this.rejected(
        new IngestError(
          'nas_behind',
          'the gateway is moving segments to the NAS slower than they arrive; retry shortly',
          Math.min(NAS_BEHIND_RETRY_AFTER_S, this.opts.retryAfterS),
        ),
        req.camera,
      );
    const declared = declaredLength(req.headers);
    let release: () => void;
    try {
      // Room is held before a byte is read: what cannot be kept is refused, not acknowledged.
      release = await this.opts.buffer.reserve(
        declared !== null && declared >= 0 ? declared : this.opts.maxSegmentBytes,
      );
    } catch (err) {
      if (!(err instanceof BufferFullError)) log.error({ err }, 'could not check the buffer space');
      throw this.rejected(
        new IngestError(
          'buffer_full',
          `the gateway buffer is full (${(err as Error).message}); retry later`,
          this.opts.retryAfterS,
        ),
        req.camera,
      );
    }
    try {
      return await this.receiveAndPlace(req, meta, log);
    } finally {
      release();
    }
  }

  private async receiveAndPlace(
    req: UploadRequest,
    meta: SegmentHeaders & { kind: SegmentKind },
    log: Logger,
  ): Promise<UploadResult> {
    let received: ReceivedBody;
    try {
      received = await this.opts.buffer.receive(req.body, this.opts.maxSegmentBytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError)
        throw this.rejected(
          new IngestError('too_large', `segment body exceeds ${this.opts.maxSegmentBytes} bytes`),
          req.camera,
        );
      if (err instanceof BodyAbortedError)
        throw this.rejected(new IngestError('aborted', err.message), req.camera);
      log.error({ err }, 'could not write segment to the buffer');
      throw this.rejected(
        new IngestError('storage_failed', 'could not write the segment to the buffer'),
        req.camera,
      );
    }
    if (received.sha256 !== meta.sha256) {
      await this.opts.buffer.discard(received.tempPath);
      throw this.rejected(
        new IngestError(
          'sha256_mismatch',
          `body sha256 ${received.sha256} does not match header ${meta.sha256}`,
        ),
        req.camera,
      );
    }
    try {
      const result = await this.opts.lock.run(`${req.camera}/${req.name}`, () =>
        this.place(req.camera, req.name, meta, received),
      );
      if (result.status === 'created') log.debug({ bytes: received.bytes }, 'segment stored');
      return result;
    } catch (err) {
      await this.opts.buffer.discard(received.tempPath).catch(() => {});
      if (!(err instanceof IngestError)) log.error({ err }, 'could not store segment');
      throw this.rejected(err, req.camera);
    }
  }

  /** Runs under the segment's lock: decide between new, identical and conflicting. */
  private async place(
    camera: string,
    name: string,
    meta: SegmentHeaders & { kind: SegmentKind },
    body: ReceivedBody,
  ): Promise<UploadResult> {
    const { buffer, files, index } = this.opts;
    const segment = (location: SegmentLocation): StoredSegment => ({
      camera,
      name,
      kind: meta.kind,
      sha256: body.sha256,
      bytes: body.bytes,
      location,
      startMs: meta.media ? meta.media.startAt.getTime() : null,
    });
    const conflict = (stored: string) =>
      new IngestError(
        'conflict',
        `${camera}/${name} is already stored with sha256 ${stored}; a segment name cannot be reused`,
      );

    if (meta.media === null) {
      // Init files are not indexed: the stored file itself is the record.
      this.noteInit(camera, name);
      const existing = (await files.digestBuffered(camera, name)) ?? (await this.nasInit(camera, name));
      if (existing && existing.sha256 !== body.sha256) throw conflict(existing.sha256);
      if (existing) {
        await buffer.discard(body.tempPath);
        return { status: 'exists', segment: segment(existing.location) };
      }
      await buffer.commit(body.tempPath, camera, name);
      this.opts.onStored?.(segment('buffer'));
      return { status: 'created', segment: segment('buffer') };
    }

    const row = await index.lookup(camera, name);
    if (row && row.sha256 !== body.sha256) throw conflict(row.sha256);
    if (row?.location === 'nas') {
      // The NAS copy was verified against this sha256 when it was moved; it is not read here,
      // so a re-PUT never waits on a slow NAS.
      await buffer.discard(body.tempPath);
      return { status: 'exists', segment: segment('nas') };
    }
    // Media reach the NAS only once indexed, so without a row only the buffer can hold it.
    const onDisk = await files.digestBuffered(camera, name);
    if (row) {
      if (onDisk?.sha256 === body.sha256) {
        await buffer.discard(body.tempPath);
        return { status: 'exists', segment: segment(onDisk.location) };
      }
      // Indexed but the file is gone or damaged, or it waits in another gateway's buffer (the
      // agent failed over before its answer came): the re-upload heals it, and the row names
      // this gateway, which serves and moves it from now on.
      await buffer.commit(body.tempPath, camera, name);
      await index.setLocation(camera, name, 'buffer', this.opts.gatewayId);
      this.opts.onStored?.(segment('buffer'));
      return { status: 'exists', segment: segment('buffer') };
    }
    // No row: any file on disk was never acknowledged (crash before indexing), so an
    // identical one is adopted and a different one replaced.
    let location: SegmentLocation = 'buffer';
    if (onDisk?.sha256 === body.sha256) {
      await buffer.discard(body.tempPath);
      location = onDisk.location;
    } else {
      await buffer.commit(body.tempPath, camera, name);
    }
    const inserted = await index.insert({
      cameraId: camera,
      name,
      sha256: body.sha256,
      bytes: body.bytes,
      location,
      gatewayId: this.opts.gatewayId,
      ...meta.media,
    });
    if (inserted === 'exists') {
      const winner = await index.lookup(camera, name);
      if (winner && winner.sha256 !== body.sha256) throw conflict(winner.sha256);
      return { status: 'exists', segment: segment(location) };
    }
    if (location === 'buffer') this.opts.onStored?.(segment('buffer'));
    return { status: 'created', segment: segment(location) };
  }

  /**
   * The NAS copy of an init file, through the worker. A NAS that cannot answer (hung, down)
   * counts as not having it: the file is kept in the buffer again and moved later, the same
   * bytes under the same name (agents name init files by their content).
   */
  private async nasInit(camera: string, name: string) {
    try {
      const found = await this.opts.nasDigest(camera, name);
      return found ? { ...found, location: 'nas' as const } : null;
    } catch (err) {
      this.opts.logger.warn({ err, cameraId: camera, segment: name }, 'NAS not readable for an init check');
      return null;
    }
  }

  /** Refuses (and counts) an upload whose `content-type` header cannot even be parsed. */
  refuseContentType(camera: string, _name: string, value: string): IngestError {
    return this.rejected(
      new IngestError(
        'bad_headers',
        `header content-type ${JSON.stringify(value.slice(0, 100))} is malformed`,
      ),
      camera,
    ) as IngestError;
  }

  private rejected(err: unknown, camera: string): unknown {
    const reason: RejectReason = err instanceof IngestError ? err.code : 'storage_failed';
    this.opts.onRejected?.(reason, camera);
    if (err instanceof IngestError) return err;
    return new IngestError('storage_failed', 'the segment could not be stored; retry later');
  }
}
