/**
 * A camera's init files on their way to the gateways. Each run's init goes up under a name made
 * of its content (`init-<16 hex of sha256>.mp4`), remembered in the upload state. Every gateway
 * the run's segments go to gets it first, once per process: after a failover the next gateway
 * has never seen it. With one gateway, the inits in the upload state count as sent to it (it is
 * the only one they could have gone to); with several, the agent cannot tell which one has them,
 * so each gets them again once, an identical re-upload the gateway answers as done.
 */
import { basename } from 'node:path';
import { SEGMENT_HEADERS, segmentPath } from '@cctv/protocol';
import type { Logger } from 'pino';
import { putToGateway } from './gateway-pool.ts';
import { type PutFile, type PutResult, readForUpload, type UploadFile } from './put-file.ts';
import { saveUploadState, type UploadState } from './upload-state.ts';

export interface RunInitsOptions {
  cameraId: string;
  /** The camera's spool folder, where its upload state lives. */
  dir: string;
  nodeId: string;
  state: UploadState;
  /** Every gateway, most preferred first. */
  gateways: readonly string[];
  put: PutFile;
  logger: Logger;
}

/** The init name a run's segments carry; with `refusal`, the gateway did not take the init. */
export interface InitOutcome {
  name: string;
  refusal?: PutResult;
}

export class RunInits {
  /** Gateway URL → the init names it has from this process. */
  private readonly sent = new Map<string, Set<string>>();

  constructor(private readonly opts: RunInitsOptions) {
    const [only, ...others] = opts.gateways;
    if (only !== undefined && others.length === 0)
      this.sent.set(only, new Set(Object.values(opts.state.inits)));
  }

  /** Sends the run's init to `gateway` unless it has it from this process. */
  async ensure(initPath: string, gateway: string): Promise<InitOutcome> {
    const local = basename(initPath);
    const known = this.opts.state.inits[local];
    const sent = this.sentTo(gateway);
    if (known && sent.has(known)) return { name: known };
    let file: UploadFile;
    try {
      file = await readForUpload(initPath);
    } catch (err) {
      if (!known || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // Gone from the spool though its run is not: the segment goes up naming the init the
      // gateways that took it have; sending the segment is still worth more than holding it.
      return { name: known };
    }
    const name = known ?? `init-${file.sha256.slice(0, 16)}.mp4`;
    const result = await putToGateway(
      this.opts.put,
      new URL(segmentPath(this.opts.cameraId, name), gateway),
      file,
      { [SEGMENT_HEADERS.sha256]: file.sha256, [SEGMENT_HEADERS.node]: this.opts.nodeId },
    );
    const ok = (result.status >= 200 && result.status < 300) || storedAlready(result, file.sha256);
    if (!ok) return { name, refusal: result };
    sent.add(name);
    if (known) {
      this.opts.logger.info({ init: name, local, gateway }, 'init file sent to this gateway too');
      return { name };
    }
    this.opts.logger.info({ init: name, local, gateway }, 'init file uploaded');
    this.opts.state.inits[local] = name;
    await saveUploadState(this.opts.dir, this.opts.state);
    return { name };
  }

  private sentTo(gateway: string): Set<string> {
    let names = this.sent.get(gateway);
    if (!names) {
      names = new Set();
      this.sent.set(gateway, names);
    }
    return names;
  }
}

/**
 * A 409 whose gateway says it holds these very bytes under the name (`already stored with
 * sha256 <ours>`): done. The gateway answers an identical re-upload with 200, but one that
 * refused it as a conflict would still have what the segments need.
 */
function storedAlready(result: PutResult, sha256: string): boolean {
  if (result.status !== 409) return false;
  return /already stored with sha256 ([0-9a-f]{64})/.exec(result.body)?.[1] === sha256;
}
