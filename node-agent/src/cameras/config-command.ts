/**
 * `cmd/config`: replaces this node's camera list at run time. The list is checked as strictly
 * as the config file (schema, duplicate ids, readable sources) before anything changes.
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

export function configCommand(deps: {
  apply: (cameras: CameraConfig[]) => Promise<CameraChange>;
}): (args: unknown) => Promise<CameraChange> {
  return async (args) => deps.apply(parseConfigArgs(args));
}
