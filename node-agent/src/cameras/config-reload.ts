/**
 * SIGHUP: the config file's cameras again (file-managed nodes; a master-managed node keeps what
 * the master sent). Other keys need a restart (a warning says so); a file that no longer
 * validates changes nothing.
 */
import type { Logger } from 'pino';
import { type AgentConfig, type ConfigError, loadConfigFile, managementOf } from '../config.ts';
import type { CameraList } from './camera-list.ts';

export interface ConfigReload {
  configPath: string;
  /** The configuration the agent started with. */
  running: AgentConfig;
  cameras: CameraList;
  logger: Logger;
}

/** Re-reads the file and applies its cameras; never throws for a bad file (it is logged). */
export async function reloadCameras({ configPath, running, cameras, logger }: ConfigReload): Promise<void> {
  let next: AgentConfig;
  try {
    next = loadConfigFile(configPath);
  } catch (err) {
    logger.error(
      { problems: (err as ConfigError).problems, err: (err as Error).message },
      'reload refused: config invalid, nothing changed',
    );
    return;
  }
  const { cameras: _new, ...restNew } = next;
  const { cameras: _old, ...restOld } = running;
  if (JSON.stringify(restNew) !== JSON.stringify(restOld))
    logger.warn('reload applies cameras only; restart the agent for the other changed keys');
  if (managementOf(next) !== cameras.mode)
    logger.warn('reload keeps the management mode; restart the agent to change it');
  const { change, from } = await cameras.fromFile(next.cameras, true);
  logger.info({ ...change, from }, 'config reloaded');
}
