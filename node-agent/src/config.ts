/**
 * Agent configuration: one YAML file, named by `--config <path>` or `CCTV_AGENT_CONFIG`,
 * validated once at start against the schema (config-schema.ts) and the checks a schema cannot
 * express, every problem listed at once. Every key is documented in node-agent/README.md.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { ManagementMode } from '@cctv/protocol';
import { ConfigProblems, checkSchema } from '@cctv/protocol/config-check';
import { readServerTls } from '@cctv/tls/server-tls';
import { parse as parseYaml } from 'yaml';
import { type AgentConfig, AgentConfigSchema, type CameraConfig } from './config-schema.ts';
import { sourceProblem } from './recorder/source.ts';

export {
  type AgentConfig,
  AgentConfigSchema,
  type CameraConfig,
  CameraConfigSchema,
} from './config-schema.ts';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Validates an already parsed document, filling defaults; throws ConfigError listing every problem. */
export function parseConfig(doc: unknown, source = 'config'): AgentConfig {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError(`${source}: expected a YAML mapping at the top level`);
  const problems = new ConfigProblems();
  const config = checkSchema(AgentConfigSchema, doc, problems);
  // The checks across keys and on files need a document of the right shape.
  if (problems.empty) for (const problem of semanticProblems(config)) problems.add(problem);
  problems.throwIfAny(
    (unique) => new ConfigError(`${source} is invalid:\n  - ${unique.join('\n  - ')}`, unique),
  );
  return config;
}

/** What the schema cannot say: URLs, camera sources, ranges between keys, TLS files. */
function semanticProblems(config: AgentConfig): string[] {
  const problems: string[] = [];
  checkUrl(problems, 'mqtt.url', config.mqtt.url, ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:']);
  for (const [key, url] of gatewayUrls(config)) checkUrl(problems, key, url, ['http:', 'https:']);
  problems.push(...repeatedGateways(config));
  problems.push(...cameraProblems(config.cameras ?? []));
  if (config.management === 'master' && (config.cameras?.length ?? 0) > 0)
    problems.push(
      'cameras: a master-managed node (management: master) takes its cameras from the master; remove `cameras` or set management: file',
    );
  const { icePortMin, icePortMax } = config.live;
  if ((icePortMin === undefined) !== (icePortMax === undefined) || (icePortMin ?? 0) >= (icePortMax ?? 1))
    problems.push('live.icePortMin, live.icePortMax: set both, the first below the second');
  if (config.recorder.backoffMaxMs < config.recorder.backoffInitialMs)
    problems.push('recorder.backoffMaxMs: must be at least recorder.backoffInitialMs');
  if (config.live.jsmpeg.retryMaxMs < config.live.jsmpeg.retryInitialMs)
    problems.push('live.jsmpeg.retryMaxMs: must be at least live.jsmpeg.retryInitialMs');
  problems.push(...tlsProblems(config));
  return problems;
}

/** Problems a camera list has beyond its schema: duplicate ids, sources the agent cannot read. */
export function cameraProblems(cameras: CameraConfig[]): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  cameras.forEach((cam, i) => {
    if (ids.has(cam.id)) problems.push(`cameras: duplicate camera id "${cam.id}"`);
    ids.add(cam.id);
    for (const [key, url] of [
      ['url', cam.url],
      ['substreamUrl', cam.substreamUrl],
    ] as const) {
      if (url === undefined) continue;
      const problem = sourceProblem(url);
      if (problem) problems.push(`cameras.${i}.${key}: ${problem}`);
    }
  });
  return problems;
}

/** The TLS files: readable, a CA certificate, a certificate with its own key. */
function tlsProblems(config: AgentConfig): string[] {
  const tls = config.tls;
  if (!tls) return [];
  const problems: string[] = [];
  if (tls.ca !== undefined) {
    let pem: Buffer | null = null;
    try {
      pem = readFileSync(tls.ca);
    } catch (err) {
      problems.push(`tls.ca: cannot read ${tls.ca} (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
    try {
      if (pem) new X509Certificate(pem);
    } catch {
      problems.push(`tls.ca: ${tls.ca} is not a PEM certificate`);
    }
  }
  if ((tls.cert === undefined) !== (tls.key === undefined))
    problems.push('tls.cert, tls.key: set both (the live-view certificate and its key) or neither');
  else if (tls.cert !== undefined && tls.key !== undefined) {
    try {
      createSecureContext(readServerTls({ certFile: tls.cert, keyFile: tls.key }, 'tls.cert/tls.key'));
    } catch (err) {
      const message = (err as Error).message;
      problems.push(
        message.startsWith('tls.cert/tls.key:')
          ? message
          : `tls.cert/tls.key: ${tls.cert} and ${tls.key} are not a certificate and its key (${message})`,
      );
    }
    if (config.live.jsmpeg.publicUrl?.startsWith('ws://'))
      problems.push(
        'live.jsmpeg.publicUrl: must be wss:// when tls.cert is set (the server speaks TLS only)',
      );
  }
  return problems;
}

/** True for `localhost` and loopback addresses: traffic that never leaves this host. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * What this configuration sends in clear text across the network, in words for the log at
 * start: a plain broker or gateway URL to another host, a jsmpeg server without TLS.
 */
export function cleartextWarnings(config: AgentConfig): string[] {
  const warnings: string[] = [];
  const mqtt = new URL(config.mqtt.url);
  if (['mqtt:', 'tcp:', 'ws:'].includes(mqtt.protocol) && !isLoopbackHost(mqtt.hostname))
    warnings.push(
      `mqtt.url: ${mqtt.protocol}// to ${mqtt.host} is clear text (the node's password, commands, events): use mqtts://`,
    );
  for (const [key, raw] of gatewayUrls(config)) {
    const gateway = new URL(raw);
    if (gateway.protocol === 'http:' && !isLoopbackHost(gateway.hostname))
      warnings.push(
        `${key}: http:// to ${gateway.host} is clear text (the upload token and the footage): use https://`,
      );
  }
  if (config.live.enabled && config.live.jsmpeg.enabled && config.tls?.cert === undefined)
    warnings.push(
      'live.jsmpeg: served without TLS (ws://), so its tickets and video are clear text and a dashboard on https cannot open it: set tls.cert and tls.key',
    );
  return warnings;
}

/** Every gateway URL with its key, in order of preference. */
export function gatewayUrls(config: Pick<AgentConfig, 'gateway'>): [key: string, url: string][] {
  const fallbacks = config.gateway.fallbackUrls ?? [];
  return [
    ['gateway.url', config.gateway.url],
    ...fallbacks.map((url, i): [string, string] => [`gateway.fallbackUrls.${i}`, url]),
  ];
}

/** A gateway named twice would be failed over to itself. */
function repeatedGateways(config: AgentConfig): string[] {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const [key, raw] of gatewayUrls(config)) {
    let url: string;
    try {
      url = new URL(raw).href;
    } catch {
      continue; // reported as not a URL
    }
    const first = seen.get(url);
    if (first) problems.push(`${key}: the same gateway as ${first}`);
    else seen.set(url, key);
  }
  return problems;
}

function checkUrl(problems: string[], key: string, raw: string, protocols: string[]): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push(`${key}: "${raw}" is not a URL`);
    return;
  }
  if (!protocols.includes(url.protocol))
    problems.push(`${key}: protocol must be one of ${protocols.join(', ')}, got ${url.protocol}`);
}

/** Reads and validates the YAML file; throws ConfigError with a readable message. */
export function loadConfigFile(path: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message}`);
  }
  return parseConfig(doc, `config file ${path}`);
}

/** The config path from `--config <path>` / `--config=<path>`, else `CCTV_AGENT_CONFIG`. */
export function configPathFrom(argv: string[], env: NodeJS.ProcessEnv): string {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--config') {
      const next = argv[i + 1];
      if (!next) throw new ConfigError('--config needs a path');
      return next;
    }
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  const fromEnv = env.CCTV_AGENT_CONFIG;
  if (fromEnv) return fromEnv;
  throw new ConfigError('no config: pass --config <path> or set CCTV_AGENT_CONFIG');
}

export function loadConfig(argv = process.argv.slice(2), env = process.env): AgentConfig {
  return loadConfigFile(configPathFrom(argv, env));
}

/** How the node's cameras are managed: the `management` key, or what the file implies. */
export function managementOf(config: Pick<AgentConfig, 'management' | 'cameras'>): ManagementMode {
  return config.management ?? (config.cameras !== undefined ? 'file' : 'master');
}
