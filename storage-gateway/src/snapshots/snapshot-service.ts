import type { Readable } from 'node:stream';
import { isSnapshotName, isValidId, SNAPSHOT_MAX_BYTES, snapshotPath } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { UploadAuth } from '../auth/upload-auth.ts';
import { BodyAbortedError, BodyTooLargeError, type ReceivedBody } from '../files/durable-store.ts';
import type { KeyedLock } from '../files/keyed-lock.ts';
import {
  declaredLength,
  headerValue,
  type RawHeaders,
  readUploadHeaders,
  type UploadHeaders,
} from '../ingest/upload-headers.ts';
import { SnapshotError, type SnapshotRejectReason } from './snapshot-error.ts';
import type { SnapshotStore } from './snapshot-store.ts';

export interface SnapshotUpload {
  camera: string;
  name: string;
  headers: RawHeaders;
  body: Readable;
  /** The client's address, for security alerts. */
  address?: string;
}

export interface StoredSnapshot {
  camera: string;
  name: string;
  sha256: string;
  bytes: number;
  /** Where the gateway serves it, relative to the gateway URL (`SnapshotRef.image`). */
  path: string;
}

/** `created`: first acknowledgement (201); `exists`: an identical re-PUT (200). */
export interface SnapshotUploadResult {
  status: 'created' | 'exists';
  snapshot: StoredSnapshot;
}

export interface SnapshotServiceOptions {
  store: SnapshotStore;
  lock: KeyedLock;
  logger: Logger;
  /** Checks the node's upload token; null lets any upload in (GATEWAY_UPLOAD_AUTH=off). */
  auth: UploadAuth | null;
  onStored?: (snapshot: StoredSnapshot) => void;
  onRejected?: (reason: SnapshotRejectReason, camera: string) => void;
}

const CONTENT_TYPES = new Set(['image/jpeg', 'application/octet-stream']);
/** Every JPEG file starts with SOI (FF D8) followed by the first marker's FF. */
const JPEG_SOI = Buffer.from([0xff, 0xd8, 0xff]);

/**
 * Takes an uploaded event snapshot to "acknowledged means durable": body in a temp file,
 * sha256 and JPEG signature checked, fsynced, renamed into `<snapshotDir>/<camera>/<name>`.
 * Idempotent by camera and name; a name is never reused for other bytes.
 */
export class SnapshotService {
  constructor(private readonly opts: SnapshotServiceOptions) {}

  /** Validates the request line and headers before any body byte is read. */
  precheck(camera: string, name: string, headers: RawHeaders): UploadHeaders {
    try {
      if (!isValidId(camera))
        throw new SnapshotError('bad_camera', `camera id ${JSON.stringify(camera)} is not valid`);
      if (!isSnapshotName(name))
        throw new SnapshotError(
          'bad_name',
          `snapshot name ${JSON.stringify(name)} must be a plain *.jpg name (letters, digits, - and _)`,
        );
      const declared = declaredLength(headers);
      if (declared !== null && declared > SNAPSHOT_MAX_BYTES)
        throw new SnapshotError('too_large', `snapshot body exceeds ${SNAPSHOT_MAX_BYTES} bytes`);
      const type = headerValue(headers, 'content-type')?.split(';')[0]?.trim().toLowerCase();
      if (type && !CONTENT_TYPES.has(type))
        throw new SnapshotError(
          'bad_content_type',
          `content-type ${JSON.stringify(type)} is not accepted; send image/jpeg`,
        );
      return readUploadHeaders(headers, (m) => new SnapshotError('bad_headers', m));
    } catch (err) {
      throw this.rejected(err, camera, name);
    }
  }

  async upload(req: SnapshotUpload): Promise<SnapshotUploadResult> {
    const meta = this.precheck(req.camera, req.name, req.headers);
    const log = this.opts.logger.child({ cameraId: req.camera, snapshot: req.name, nodeId: meta.nodeId });
    if (this.opts.auth) {
      const checked = await this.opts.auth.check(req.headers, req.camera, req.address ?? null);
      if (!('nodeId' in checked))
        throw this.rejected(new SnapshotError(checked.code, checked.message), req.camera, req.name);
    }
    let received: ReceivedBody;
    try {
      received = await this.opts.store.receive(req.body, SNAPSHOT_MAX_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLargeError)
        throw this.rejected(
          new SnapshotError('too_large', `snapshot body exceeds ${SNAPSHOT_MAX_BYTES} bytes`),
          req.camera,
          req.name,
        );
      if (err instanceof BodyAbortedError)
        throw this.rejected(new SnapshotError('aborted', err.message), req.camera, req.name);
      log.error({ err }, 'could not receive snapshot');
      throw this.rejected(err, req.camera, req.name);
    }
    try {
      if (received.sha256 !== meta.sha256)
        throw new SnapshotError(
          'sha256_mismatch',
          `body sha256 ${received.sha256} does not match header ${meta.sha256}`,
        );
      if (!received.head.subarray(0, JPEG_SOI.length).equals(JPEG_SOI))
        throw new SnapshotError('not_jpeg', 'body is not a JPEG image: it does not start with FF D8 FF');
      const result = await this.opts.lock.run(`snapshots/${req.camera}/${req.name}`, () =>
        this.place(req.camera, req.name, received),
      );
      if (result.status === 'created') log.debug({ bytes: received.bytes }, 'snapshot stored');
      return result;
    } catch (err) {
      await this.opts.store.discard(received.tempPath).catch(() => {});
      if (!(err instanceof SnapshotError)) log.error({ err }, 'could not store snapshot');
      throw this.rejected(err, req.camera, req.name);
    }
  }

  /** Runs under the snapshot's lock: decide between new, identical and conflicting. */
  private async place(camera: string, name: string, body: ReceivedBody): Promise<SnapshotUploadResult> {
    const { store } = this.opts;
    const snapshot: StoredSnapshot = {
      camera,
      name,
      sha256: body.sha256,
      bytes: body.bytes,
      path: snapshotPath(camera, name),
    };
    // A file under its final name was fsynced before its rename, so it is complete.
    const existing = await store.digest(camera, name);
    if (existing && existing.sha256 !== body.sha256)
      throw new SnapshotError(
        'conflict',
        `${camera}/${name} is already stored with sha256 ${existing.sha256}; a snapshot name cannot be reused`,
      );
    if (existing) {
      await store.discard(body.tempPath);
      return { status: 'exists', snapshot };
    }
    await store.commit(body.tempPath, camera, name);
    this.opts.onStored?.(snapshot);
    return { status: 'created', snapshot };
  }

  /** Refuses (and counts) an upload whose `content-type` header cannot even be parsed. */
  refuseContentType(camera: string, name: string, value: string): SnapshotError {
    return this.rejected(
      new SnapshotError(
        'bad_content_type',
        `content-type ${JSON.stringify(value.slice(0, 100))} is malformed; send image/jpeg`,
      ),
      camera,
      name,
    );
  }

  /** Counts and logs a refusal; anything untyped becomes a retryable `storage_failed`. */
  private rejected(err: unknown, camera: string, name: string): SnapshotError {
    const refusal =
      err instanceof SnapshotError
        ? err
        : new SnapshotError('storage_failed', 'the snapshot could not be stored; retry later');
    this.opts.onRejected?.(refusal.code, camera);
    this.opts.logger.info(
      { cameraId: camera, snapshot: name, reason: refusal.code, detail: refusal.message },
      'snapshot refused',
    );
    return refusal;
  }
}
