import { type FileHandle, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { removeFile } from '../files/durable-fs.ts';
import type { SegmentFiles } from '../files/segment-files.ts';
import { ffmpegH264, type Transcoder } from './h264-transcoder.ts';
import { type CacheState, RenditionCache } from './rendition-cache.ts';
import { RenditionError, type RenditionErrorCode } from './rendition-error.ts';
import { type SlotState, TranscodeSlots } from './transcode-slots.ts';

/** The indexed media segment a rendition is made from. */
export interface RenditionSource {
  cameraId: string;
  name: string;
  initName: string;
}

export interface OpenedRendition {
  handle: FileHandle;
  size: number;
  mtime: Date;
  /** `cache` also when another request's transcode of the same segment was joined. */
  servedFrom: 'cache' | 'transcode';
}

export type RenditionState = SlotState & {
  /** Segments being made right now (each by one ffmpeg or waiting for a slot). */
  inFlight: number;
  cache: CacheState;
};

export interface RenditionServiceOptions {
  /** `GATEWAY_RENDITION_DIR`. */
  dir: string;
  files: Pick<SegmentFiles, 'open'>;
  maxCacheBytes: number;
  concurrency: number;
  /** Requests that may wait for a slot; one more is refused with `busy`. */
  queueMax: number;
  timeoutMs: number;
  logger: Logger;
  /** Injected so tests can run another process; ffmpeg with libx264 by default. */
  transcoder?: Transcoder;
  // Each request reports exactly one of the next four (none when cut short by stop()).
  onTranscoded?: (ms: number, bytes: number) => void;
  onCacheHit?: () => void;
  onBusy?: () => void;
  onFailed?: (code: RenditionErrorCode) => void;
  /** Slots taken or queued changed. */
  onActivity?: (state: RenditionState) => void;
}

type Made = { ms: number; bytes: number } | null;

/** The label values of `cctv_gateway_renditions_total`, one per request. */
export const RENDITION_RESULTS = ['transcoded', 'cache_hit', 'failed', 'busy'] as const;

/** Cache key of the H.264 rendition of one source segment: sources are immutable. */
export const renditionKey = (cameraId: string, name: string) =>
  `h264/${cameraId}/${name.replace(/\.m4s$/, '')}`;

/**
 * H.264 renditions of recorded media segments, made on demand with ffmpeg and kept in a
 * byte-bounded LRU cache on disk. At most `concurrency` ffmpeg run at once, others queue
 * up to `queueMax`; a segment asked for by several requests at once is transcoded once.
 */
export class RenditionService {
  private readonly cache: RenditionCache;
  private readonly slots: TranscodeSlots;
  private readonly transcoder: Transcoder;
  private readonly flights = new Map<string, Promise<Made>>();
  private readonly abort = new AbortController();
  /** Moving average of transcode time, for `Retry-After`. */
  private averageMs = 2000;
  private stopped = false;

  constructor(private readonly opts: RenditionServiceOptions) {
    this.cache = new RenditionCache(opts.dir, opts.maxCacheBytes, opts.logger);
    this.slots = new TranscodeSlots(
      opts.concurrency,
      opts.queueMax,
      () => opts.onActivity?.(this.state),
      ({ queued }) =>
        Math.min(60, Math.max(1, Math.ceil((this.averageMs * (queued + 1)) / opts.concurrency / 1000))),
    );
    this.transcoder = opts.transcoder ?? ffmpegH264();
  }

  get state(): RenditionState {
    return { ...this.slots.state, inFlight: this.flights.size, cache: this.cache.state };
  }

  /** Creates the cache directory, clears temp files a crash left, indexes what is cached. */
  async start(): Promise<void> {
    await this.cache.prepare();
  }

  /** Refuses new and queued requests, kills running ffmpeg, resolves when all have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.slots.refuseWaiting(new RenditionError('stopped', 'the rendition service is stopping'));
    this.abort.abort();
    await Promise.allSettled([...this.flights.values()]);
  }

  /**
   * The rendition of `source`, opened for reading (the caller closes the handle): from the
   * cache, by joining a transcode in flight, or by transcoding it now.
   */
  async open(source: RenditionSource): Promise<OpenedRendition> {
    const key = renditionKey(source.cameraId, source.name);
    this.cache.pin(key);
    try {
      if (this.stopped) throw new RenditionError('stopped', 'the rendition service is stopping');
      const cached = await this.cache.open(key);
      if (cached) {
        this.opts.onCacheHit?.();
        return { ...cached, servedFrom: 'cache' };
      }
      let flight = this.flights.get(key);
      const joined = flight !== undefined;
      if (!flight) {
        flight = this.make(key, source).finally(() => this.flights.delete(key));
        this.flights.set(key, flight);
      }
      const made = await flight;
      // Pinned since before the transcode ended, so eviction cannot have taken it.
      const opened = await this.cache.open(key);
      if (!opened) throw new RenditionError('transcode_failed', `rendition ${key} is missing from the cache`);
      if (made && !joined) this.opts.onTranscoded?.(made.ms, made.bytes);
      else this.opts.onCacheHit?.();
      return { ...opened, servedFrom: made && !joined ? 'transcode' : 'cache' };
    } catch (err) {
      const code = err instanceof RenditionError ? err.code : 'transcode_failed';
      if (code === 'busy') this.opts.onBusy?.();
      else if (code !== 'stopped') this.opts.onFailed?.(code);
      throw err;
    } finally {
      await this.cache.unpin(key);
    }
  }

  /** One transcode into the cache; null when another flight made it while this one queued. */
  private async make(key: string, source: RenditionSource): Promise<Made> {
    const release = await this.slots.acquire();
    const log = this.opts.logger.child({ cameraId: source.cameraId, segment: source.name });
    try {
      if (this.cache.has(key)) return null;
      const [init, media] = await this.openSources(source);
      const temp = this.cache.tempPath();
      const started = performance.now();
      try {
        await this.transcoder({
          inputs: [init.createReadStream({ autoClose: false }), media.createReadStream({ autoClose: false })],
          output: temp,
          timeoutMs: this.opts.timeoutMs,
          signal: this.abort.signal,
        });
        const written = await stat(temp).then(
          (st) => st.size,
          () => 0,
        );
        if (written === 0) throw new RenditionError('transcode_failed', 'ffmpeg exited 0 but wrote nothing');
        const bytes = await this.cache.commit(key, temp);
        const ms = performance.now() - started;
        this.averageMs = 0.8 * this.averageMs + 0.2 * ms;
        log.debug({ ms: Math.round(ms), bytes }, 'rendition made');
        return { ms, bytes };
      } catch (err) {
        await removeFile(temp).catch((rmErr: unknown) =>
          log.warn({ err: rmErr }, 'could not remove a temp file'),
        );
        if (err instanceof RenditionError && err.code === 'stopped') throw err;
        log.warn({ err }, 'rendition failed');
        // Storing it (fsync, rename) failed: still a rendition failure, with its cause.
        if (!(err instanceof RenditionError))
          throw new RenditionError(
            'transcode_failed',
            `storing the rendition failed: ${(err as Error).message}`,
          );
        throw err;
      } finally {
        await Promise.all([init.close(), media.close()]);
      }
    } finally {
      release();
    }
  }

  private async openSources(source: RenditionSource): Promise<[FileHandle, FileHandle]> {
    const { cameraId, name, initName } = source;
    const open = async (file: string) => {
      try {
        return await this.opts.files.open(cameraId, file);
      } catch (err) {
        throw new RenditionError('source_unreadable', `${cameraId}/${file}: ${(err as Error).message}`);
      }
    };
    const init = await open(initName);
    if (!init) throw new RenditionError('source_missing', `init file ${cameraId}/${initName} is not stored`);
    const media = await open(name).catch(async (err: unknown) => {
      await init.handle.close();
      throw err;
    });
    if (!media) {
      await init.handle.close();
      throw new RenditionError('source_missing', `segment ${cameraId}/${name} is not stored`);
    }
    return [init.handle, media.handle];
  }
}
