/**
 * `cctv_node_clock_offset_seconds{node}` from each heartbeat's `clock` (the node's clock minus
 * the master's); a heartbeat without one (an older agent, no answer measured yet) removes the
 * node's series rather than leave an old figure standing.
 */
import type { HeartbeatMessage } from '@cctv/protocol';
import type { Gauge } from 'prom-client';

export function clockOffsetObserver(gauge: Gauge<'node'>): (nodeId: string, msg: HeartbeatMessage) => void {
  return (node, msg) => {
    if (msg.clock) gauge.set({ node }, msg.clock.offsetMs / 1000);
    else gauge.remove({ node });
  };
}
