import type { Readable } from 'node:stream';
import { isValidId, type SegmentKind, segmentKind } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { BufferStore } from '../buffer/buffer-store.ts';
import { BodyAbortedError, BodyTooLargeError, type ReceivedBody } from '../files/durable-store.ts';
import type { KeyedLock } from '../files/keyed-lock.ts';
import type { SegmentFiles, SegmentLocation } from '../files/segment-files.ts';
import type { SegmentRepository } from '../index/segment-repository.ts';
import { IngestError, type RejectReason } from './ingest-error.ts';
import { parseUploadHeaders, type UploadHeaders } from './segment-headers.ts';

export interface UploadRequest {
  camera: string;
  name: string;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

export interface StoredSegment {
  camera: string;
  name: string;
  kind: SegmentKind;
  sha256: string;
  bytes: number;
  location: SegmentLocation;
}

/** `created`: first acknowledgement (201); `exists`: an identical re-PUT (200). */
export interface UploadResult {
  status: 'created' | 'exists';
  segment: StoredSegment;
}

export interface IngestServiceOptions {
  buffer: BufferStore;
  files: SegmentFiles;
  index: SegmentRepository;
  lock: KeyedLock;
  maxSegmentBytes: number;
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
  constructor(private readonly opts: IngestServiceOptions) {}

  /** Validates the request line and headers before any body byte is read. */
  precheck(
    camera: string,
    name: string,
    headers: UploadRequest['headers'],
  ): UploadHeaders & { kind: SegmentKind } {
    try {
      if (!isValidId(camera))
        throw new IngestError('bad_camera', `camera id ${JSON.stringify(camera)} is not valid`);
      const kind = segmentKind(name);
      if (!kind)
        throw new IngestError(
          'bad_name',
          `segment name ${JSON.stringify(name)} must be a plain *.m4s or *.mp4 name`,
        );
      const declared = Number(headers['content-length']);
      if (Number.isFinite(declared) && declared > this.opts.maxSegmentBytes)
        throw new IngestError('too_large', `segment body exceeds ${this.opts.maxSegmentBytes} bytes`);
      return { ...parseUploadHeaders(kind, headers), kind };
    } catch (err) {
      throw this.rejected(err, camera);
    }
  }

  async upload(req: UploadRequest): Promise<UploadResult> {
    const meta = this.precheck(req.camera, req.name, req.headers);
    const log = this.opts.logger.child({ cameraId: req.camera, segment: req.name });
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
    meta: UploadHeaders & { kind: SegmentKind },
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
    });
    const conflict = (stored: string) =>
      new IngestError(
        'conflict',
        `${camera}/${name} is already stored with sha256 ${stored}; a segment name cannot be reused`,
      );

    if (meta.media === null) {
      // Init files are not indexed: the stored file itself is the record.
      const existing = await files.digest(camera, name);
      if (existing && existing.sha256 !== body.sha256) throw conflict(existing.sha256);
      if (existing) {
        await buffer.discard(body.tempPath);
        return { status: 'exists', segment: segment(existing.location) };
      }
      await buffer.commit(body.tempPath, camera, name);
      this.opts.onStored?.(segment('buffer'));
      return { status: 'created', segment: segment('buffer') };
    }

    const row = await index.find(camera, name);
    if (row && row.sha256 !== body.sha256) throw conflict(row.sha256);
    const onDisk = await files.digest(camera, name);
    if (row) {
      if (onDisk?.sha256 === body.sha256) {
        await buffer.discard(body.tempPath);
        return { status: 'exists', segment: segment(onDisk.location) };
      }
      // Indexed but the file is gone or damaged: the re-upload heals it.
      await buffer.commit(body.tempPath, camera, name);
      await index.setLocation(camera, name, 'buffer');
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
      ...meta.media,
    });
    if (inserted === 'exists') {
      const winner = await index.find(camera, name);
      if (winner && winner.sha256 !== body.sha256) throw conflict(winner.sha256);
      return { status: 'exists', segment: segment(location) };
    }
    if (location === 'buffer') this.opts.onStored?.(segment('buffer'));
    return { status: 'created', segment: segment(location) };
  }

  private rejected(err: unknown, camera: string): unknown {
    const reason: RejectReason = err instanceof IngestError ? err.code : 'storage_failed';
    this.opts.onRejected?.(reason, camera);
    if (err instanceof IngestError) return err;
    return new IngestError('storage_failed', 'the segment could not be stored; retry later');
  }
}
