/**
 * `cmd/camera-moved`: an admin gave one of this node's cameras to another node. The master and
 * the gateway now refuse this node's events and uploads for it; the agent says so loudly, once,
 * and keeps recording it to the spool (nothing recorded is thrown away) until the camera is
 * taken out of this node's configuration.
 */
import { COMMAND_ERRORS, validators } from '@cctv/protocol';
import type { Logger } from 'pino';
import type { CommandHandler } from '../link/command-dispatch.ts';

export function cameraMovedCommand(opts: {
  logger: Logger;
  configured: (cameraId: string) => boolean;
}): CommandHandler {
  return (args) => {
    const parsed = validators.cameraMovedArgs.validate(args);
    if (!parsed.ok) throw Object.assign(new Error(parsed.error), { code: COMMAND_ERRORS.badRequest });
    const { camera, nodeId, by } = parsed.value;
    const configured = opts.configured(camera);
    opts.logger.error(
      { cameraId: camera, newOwner: nodeId, by, configured },
      configured
        ? 'camera moved to another node by an admin: its uploads and events are refused from now on; take it out of this node’s configuration'
        : 'camera moved to another node by an admin (it is not configured here)',
    );
    return { camera, configured };
  };
}
