/**
 * What the agent says about itself, for comparison with what the benchmark reads from /proc:
 * its Prometheus `/metrics` and its MQTT heartbeats (recording mode, fps and bitrate per camera).
 */
import { type HeartbeatMessage, topics } from '@cctv/protocol';
import mqtt from 'mqtt';
import type { Cleanups } from './support.ts';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format, the plain subset prom-client writes (no timestamps, no escapes in labels). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1] ?? ''] = l[2] ?? '';
    out.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return out;
}

export class AgentMetricsProbe {
  constructor(private readonly url: string) {}

  async scrape(): Promise<Sample[]> {
    const res = await fetch(this.url, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) throw new Error(`${this.url}: HTTP ${res.status}`);
    return parseMetrics(await res.text());
  }
}

/** Sum of a metric over the label sets matching `where`; null when absent. */
export function metricSum(
  samples: Sample[],
  name: string,
  where: Record<string, string> = {},
): number | null {
  const hits = samples.filter(
    (s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v),
  );
  return hits.length === 0 ? null : hits.reduce((a, s) => a + s.value, 0);
}

/** The latest heartbeat of every node on the broker. */
export class HeartbeatWatcher {
  private readonly last = new Map<string, HeartbeatMessage>();

  private constructor(client: mqtt.MqttClient) {
    client.on('message', (topic, payload) => {
      const node = topic.split('/')[3] ?? '';
      try {
        this.last.set(node, JSON.parse(payload.toString()) as HeartbeatMessage);
      } catch {
        // not ours to judge; the agent validates what it sends
      }
    });
  }

  static async start(cleanups: Cleanups, brokerUrl: string): Promise<HeartbeatWatcher> {
    const client = mqtt.connect(brokerUrl, {
      clientId: `bench-watcher-${process.pid}`,
      reconnectPeriod: 1000,
    });
    cleanups.add('disconnect heartbeat watcher', () => client.endAsync(true));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(topics.heartbeat('+'));
    return new HeartbeatWatcher(client);
  }

  latest(nodeId: string): HeartbeatMessage | undefined {
    return this.last.get(nodeId);
  }
}
