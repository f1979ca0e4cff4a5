/**
 * `cmd/restart` (admins): the agent answers, then stops gracefully (offline status, cameras,
 * uploads, link, as on SIGTERM) and exits with `RESTART_EXIT_CODE`, so that its supervisor
 * starts it again: systemd (`Restart=always`), or `npm start`'s cluster script, which restarts
 * an agent that exits with this code and stops the cluster for any other.
 */
import type { Logger } from 'pino';
import type { CommandHandler } from './command-dispatch.ts';

/** EX_TEMPFAIL (sysexits.h): "try again", what a supervisor reads as "start me again". */
export const RESTART_EXIT_CODE = 75;

/** Time for the reply to leave before the link goes down. */
const REPLY_GRACE_MS = 500;

export interface RestartCommandDeps {
  logger: Logger;
  /**
   * Stops the agent and exits with RESTART_EXIT_CODE (main.ts). Absent where no supervisor
   * would start the agent again (an agent run inside another program): the command is refused.
   */
  restart: (() => Promise<void>) | undefined;
  /** Schedules the restart after the reply (tests pass their own). */
  later?: (fn: () => void, ms: number) => void;
}

export function restartCommand(deps: RestartCommandDeps): CommandHandler {
  const later = deps.later ?? ((fn, ms) => setTimeout(fn, ms).unref());
  let asked = false;
  return (_args, request) => {
    const restart = deps.restart;
    if (!restart)
      throw Object.assign(new Error('this agent runs without a supervisor to start it again'), {
        code: 'UNSUPPORTED',
      });
    const at = new Date().toISOString();
    if (!asked) {
      asked = true;
      deps.logger.warn({ reqId: request.reqId }, 'restart asked by the master: stopping to be started again');
      later(() => {
        restart().catch((err: Error) => deps.logger.error({ err }, 'restart failed'));
      }, REPLY_GRACE_MS);
    }
    return { restarting: true, at };
  };
}
