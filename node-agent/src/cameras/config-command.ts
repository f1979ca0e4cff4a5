/**
 * `cmd/config`: replaces this node's camera list at run time. The list is checked as strictly
 * as the config file (schema, duplicate ids, readable sources) before anything changes; a
 * refused list is reported (heartbeat `config.failed`) with its version.
 */

import { ConfigCommandArgs } from '@cctv/protocol';
import { Value } from '@sinclair/typebox/value';
import { type CameraConfig, cameraProblems } from '../config.ts';
import type { CameraChange } from './camera-set.ts';

const ArgsSchema = ConfigCommandArgs;

export class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Validates `args` into a camera list; throws CommandError(BAD_ARGS) listing every problem. */
export function parseConfigArgs(args: unknown): CameraConfig[] {
  const problems = [...Value.Errors(ArgsSchema, args)].map(
    (e) => `${e.path ? e.path.slice(1).replaceAll('/', '.') : '(args)'}: ${e.message}`,
  );
  if (problems.length === 0) problems.push(...cameraProblems((args as { cameras: CameraConfig[] }).cameras));
  if (problems.length > 0) throw new CommandError('BAD_ARGS', [...new Set(problems)].slice(0, 20).join('; '));
  return (args as { cameras: CameraConfig[] }).cameras;
}

/** The version a pushed list names, read before validation so a refusal can say which one failed. */
function versionOf(args: unknown): number | null {
  const v = (args as { version?: unknown } | null)?.version;
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : null;
}

export function configCommand(deps: {
  apply: (cameras: CameraConfig[], version: number | null) => Promise<CameraChange>;
  refused: (version: number | null, reason: string) => void;
}): (args: unknown) => Promise<CameraChange> {
  return async (args) => {
    const version = versionOf(args);
    let cameras: CameraConfig[];
    try {
      cameras = parseConfigArgs(args);
    } catch (err) {
      deps.refused(version, (err as Error).message);
      throw err;
    }
    return deps.apply(cameras, version);
  };
}
