/**
 * The cameras this node records, changed at run time (SIGHUP reload, `cmd/config`) without
 * touching the others: an added camera starts, a removed one stops (its upload backlog still
 * drains), a changed one restarts, and an unchanged one keeps its ffmpeg running.
 */
import type { CameraInfo } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { CameraPlanner } from '../recorder/camera-plan.ts';
import type { Recorder } from '../recorder/recorder.ts';

/** One camera as the set knows it: an id and a definition compared as a whole. */
export interface CameraDefinition {
  id: string;
  /** Any JSON-able description; a camera whose definition differs is restarted. */
  spec: unknown;
}

/** A camera's detection: started after its recorder, stopped before it. */
export interface CameraAnalysis {
  start(): void;
  stop(): Promise<void>;
}

export interface CameraSetDeps {
  makePlanner: (def: CameraDefinition) => CameraPlanner;
  makeRecorder: (planner: CameraPlanner) => Recorder;
  /** The camera's analysis, or null when it has none (disabled, or no source it can open). */
  makeAnalysis?: (def: CameraDefinition) => CameraAnalysis | null;
  /** Called before a new camera's recorder starts, so its uploads have somewhere to go. */
  prepareCamera: (cameraId: string) => Promise<void>;
  logger: Logger;
}

export interface CameraChange {
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
}

interface Member {
  def: CameraDefinition;
  key: string;
  planner: CameraPlanner;
  recorder: Recorder;
  analysis: CameraAnalysis | null;
}

/** Which cameras to add, remove, restart or leave, by id and definition. */
export function diffCameras(current: Map<string, string>, next: CameraDefinition[]): CameraChange {
  const change: CameraChange = { added: [], removed: [], changed: [], unchanged: [] };
  const nextIds = new Set(next.map((d) => d.id));
  for (const id of current.keys()) if (!nextIds.has(id)) change.removed.push(id);
  for (const def of next) {
    const key = current.get(def.id);
    if (key === undefined) change.added.push(def.id);
    else if (key === keyOf(def)) change.unchanged.push(def.id);
    else change.changed.push(def.id);
  }
  return change;
}

function keyOf(def: CameraDefinition): string {
  return JSON.stringify(def.spec, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

export class CameraSet {
  private readonly members = new Map<string, Member>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: CameraSetDeps) {}

  /** Makes the running set match `defs`; changes are applied one call at a time, in order. */
  apply(defs: CameraDefinition[]): Promise<CameraChange> {
    const run = this.chain.then(() => this.applyNow(defs));
    this.chain = run.catch(() => {});
    return run;
  }

  private async applyNow(defs: CameraDefinition[]): Promise<CameraChange> {
    const keys = new Map([...this.members].map(([id, m]) => [id, m.key]));
    const change = diffCameras(keys, defs);
    // Planners are built first: a definition the agent cannot use fails the whole change
    // before anything running is touched.
    const fresh = new Map<string, { def: CameraDefinition; planner: CameraPlanner }>();
    for (const def of defs)
      if (change.added.includes(def.id) || change.changed.includes(def.id))
        fresh.set(def.id, { def, planner: this.deps.makePlanner(def) });
    for (const id of [...change.removed, ...change.changed]) {
      const member = this.members.get(id);
      this.members.delete(id);
      await member?.analysis?.stop();
      await member?.recorder.stop();
    }
    for (const [id, { def, planner }] of fresh) {
      await this.deps.prepareCamera(id);
      const recorder = this.deps.makeRecorder(planner);
      const analysis = this.deps.makeAnalysis?.(def) ?? null;
      this.members.set(id, { def, key: keyOf(def), planner, recorder, analysis });
      await recorder.start();
      analysis?.start();
    }
    if (change.added.length + change.removed.length + change.changed.length > 0)
      this.deps.logger.info(change, 'cameras changed');
    return change;
  }

  recorders(): Recorder[] {
    return [...this.members.values()].map((m) => m.recorder);
  }

  recorder(cameraId: string): Recorder | undefined {
    return this.members.get(cameraId)?.recorder;
  }

  /** A running camera's definition (live view plans from it). */
  definition(cameraId: string): CameraDefinition | undefined {
    return this.members.get(cameraId)?.def;
  }

  /** Hello's camera entries: what each planner decided. */
  infos(): CameraInfo[] {
    return [...this.members.values()].map((m) => m.planner.info());
  }

  /**
   * Stops every recorder (each finishes its last segment); with `handOff` (the agent stopping),
   * runs that can outlive the agent are left recording for the next one instead.
   */
  async stop(opts: { handOff?: boolean } = {}): Promise<void> {
    await this.chain;
    const all = [...this.members.values()];
    this.members.clear();
    await Promise.all(
      all.map(async (m) => {
        await m.analysis?.stop();
        await m.recorder.stop(opts);
      }),
    );
  }
}
