/**
 * The list of cameras this node runs and where it came from: the config file, or the list
 * `cmd/config` set (kept across restarts while the file's own list is unchanged). Every change
 * goes through `apply`, which reports it upward.
 */
import type { Logger } from 'pino';
import type { AgentConfig, CameraConfig } from '../config.ts';
import { cameraDefinitions } from './camera-definitions.ts';
import type { CameraChange, CameraSet } from './camera-set.ts';
import type { RemoteCameras } from './remote-cameras.ts';

export interface CameraListDeps {
  /** The node's settings that shape a definition (node id, the simulated camera). */
  config: AgentConfig;
  set: Pick<CameraSet, 'apply'>;
  remote: RemoteCameras;
  logger: Logger;
  /** After each change of the running cameras (live view follows; a fresh hello). */
  onChange: (change: CameraChange) => void;
}

export class CameraList {
  /** The config file's cameras as last read (start or reload). */
  private fileCameras: CameraConfig[] | undefined;

  constructor(private readonly deps: CameraListDeps) {
    this.fileCameras = deps.config.cameras;
  }

  /** The file's cameras, or those `cmd/config` set while the file's list has not changed. */
  async fromFile(fileCameras: CameraConfig[] | undefined): Promise<{ change: CameraChange; from: string }> {
    this.fileCameras = fileCameras;
    const effective = await this.deps.remote.effective(fileCameras);
    if (effective.note) this.deps.logger.warn(effective.note);
    const change = await this.apply(effective.cameras);
    return { change, from: effective.from };
  }

  /** `cmd/config`: the list given, kept until the file's cameras change. */
  async fromCommand(cameras: CameraConfig[]): Promise<CameraChange> {
    const change = await this.apply(cameras);
    await this.deps.remote.save(cameras, this.fileCameras);
    return change;
  }

  private async apply(cameras: CameraConfig[]): Promise<CameraChange> {
    const change = await this.deps.set.apply(cameraDefinitions(this.deps.config, cameras));
    this.deps.onChange(change);
    return change;
  }
}
