/**
 * Node agent entry point: arguments and signals only. `startAgent` (agent.ts) builds and starts
 * the parts; SIGTERM/SIGINT stop them in reverse, SIGHUP reloads the cameras from the file,
 * and `cmd/restart` stops them too, exiting with RESTART_EXIT_CODE for the supervisor.
 */
import { startAgent } from './agent.ts';
import { reloadCameras } from './cameras/config-reload.ts';
import { type AgentConfig, ConfigError, configPathFrom, loadConfig, managementOf } from './config.ts';
import { RESTART_EXIT_CODE } from './link/restart-command.ts';
import { createLogger } from './logger.ts';
import { AGENT_VERSION } from './version.ts';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--version')) {
    process.stdout.write(`${AGENT_VERSION}\n`);
    return;
  }
  // config: YAML from --config / CCTV_AGENT_CONFIG, validated once
  let config: AgentConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      if (argv.includes('--check-config')) {
        process.stderr.write(`${err.message}\n${err.problems.map((p) => `  ${p}\n`).join('')}`);
        process.exit(2);
      }
      createLogger(undefined).fatal({ code: err.code, problems: err.problems }, err.message);
      process.exit(2);
    }
    throw err;
  }
  // --check-config: validate the file (deployment tools run this before installing a config)
  if (argv.includes('--check-config')) {
    process.stdout.write(
      `config ok: node ${config.nodeId}, ${managementOf(config)}-managed, ${config.cameras?.length ?? 0} camera(s)\n`,
    );
    return;
  }
  const configPath = configPathFrom(argv, process.env);
  const log = createLogger(config.nodeId);
  // cmd/restart: stopped as on SIGTERM, then the exit code that asks the supervisor for a restart
  const agent = await startAgent(config, {
    logger: log,
    ...(configPath ? { configPath } : {}),
    restart: () => shutdown('restart command', RESTART_EXIT_CODE),
  });

  // SIGHUP: the config file's cameras again (other keys need a restart)
  process.on('SIGHUP', () => {
    reloadCameras({ configPath, running: config, cameras: agent.cameras, logger: log }).catch((err) =>
      log.error({ err }, 'reload failed'),
    );
  });
  let stopping = false;
  async function shutdown(signal: string, exitCode = 0): Promise<void> {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'agent stopping');
    await agent.stop();
    process.exit(exitCode);
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.on(signal, () => {
      shutdown(signal).catch((err) => {
        log.fatal({ err }, 'shutdown failed');
        process.exit(1);
      });
    });
}

main().catch((err) => {
  createLogger(undefined).fatal({ err }, 'agent failed to start');
  process.exit(1);
});
