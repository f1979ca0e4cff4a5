/**
 * The list of cameras this node runs and who decides it (docs/adr/0015). A master-managed node
 * runs what the master last pushed with `cmd/config` (kept on disk with its desired-config
 * version, so it starts without the master); a file-managed node runs its config file's cameras
 * and refuses pushed lists with a reason the master shows. Never both: the heartbeat says which
 * (`status()`). Every change goes through `apply`, which reports it upward.
 */
import { type ConfigHeartbeat, FILE_MANAGED_ERROR, type ManagementMode } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { AgentConfig, CameraConfig } from '../config.ts';
import { cameraDefinitions } from './camera-definitions.ts';
import type { CameraChange, CameraSet } from './camera-set.ts';
import { CommandError } from './config-command.ts';
import type { RemoteCameras } from './remote-cameras.ts';

export interface CameraListDeps {
  /** The node's settings that shape a definition (node id, the simulated camera). */
  config: AgentConfig;
  mode: ManagementMode;
  /** The config file, named in the reason a file-managed node gives. */
  configPath?: string;
  set: Pick<CameraSet, 'apply'>;
  remote: RemoteCameras;
  logger: Logger;
  /** After each change of the running cameras (live view follows; a fresh hello). */
  onChange: (change: CameraChange) => void;
}

export class CameraList {
  private version: number | null = null;
  private failed: { version: number; reason: string } | undefined;
  /** Pushes apply one at a time, in the order they arrive. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: CameraListDeps) {}

  get mode(): ManagementMode {
    return this.deps.mode;
  }

  /** For the heartbeat: the mode, the version running, the newest version refused. */
  status(): ConfigHeartbeat {
    return {
      mode: this.deps.mode,
      version: this.deps.mode === 'master' ? this.version : null,
      ...(this.failed ? { failed: this.failed } : {}),
    };
  }

  /**
   * At start and on SIGHUP: a file-managed node applies the file's cameras; a master-managed
   * node runs the list it last received (at start; a reload changes nothing).
   */
  async fromFile(
    fileCameras: CameraConfig[] | undefined,
    reload = false,
  ): Promise<{ change: CameraChange; from: string }> {
    if (this.deps.mode === 'file')
      return { change: await this.apply(fileCameras?.length ? fileCameras : null), from: 'file' };
    if (reload) return { change: { added: [], removed: [], changed: [], unchanged: [] }, from: 'master' };
    let cameras: CameraConfig[] | null = null;
    try {
      const stored = await this.deps.remote.load();
      if (stored) {
        cameras = stored.cameras;
        this.version = stored.configVersion ?? null;
      }
    } catch (err) {
      this.deps.logger.error(
        { err: (err as Error).message },
        'the stored camera list is unreadable: starting without cameras until the master sends them',
      );
    }
    return { change: await this.apply(cameras), from: 'master' };
  }

  /** `cmd/config`: the master's list (and its version), kept on disk once running. */
  fromCommand(cameras: CameraConfig[], version: number | null): Promise<CameraChange> {
    const run = this.queue.then(() => this.applyPushed(cameras, version));
    this.queue = run.catch(() => {});
    return run;
  }

  /** A pushed list this node refused before applying it (bad arguments): reported as failed. */
  refused(version: number | null, reason: string): void {
    if (version !== null) this.failed = { version, reason: reason.slice(0, 1000) };
  }

  private async applyPushed(cameras: CameraConfig[], version: number | null): Promise<CameraChange> {
    if (this.deps.mode === 'file') {
      const reason = `this node is file-managed: its cameras come from ${this.deps.configPath ?? 'its config file'} (management: file); set management: master there to let the master manage them`;
      this.refused(version, reason);
      throw new CommandError(FILE_MANAGED_ERROR, reason);
    }
    try {
      const change = await this.apply(cameras);
      await this.deps.remote.save(cameras, version);
      this.version = version;
      this.failed = undefined;
      return change;
    } catch (err) {
      this.refused(version, (err as Error).message);
      throw err;
    }
  }

  /** `null`: nothing configured (the simulated camera runs). */
  private async apply(cameras: CameraConfig[] | null): Promise<CameraChange> {
    const change = await this.deps.set.apply(cameraDefinitions(this.deps.config, cameras));
    this.deps.onChange(change);
    return change;
  }
}
