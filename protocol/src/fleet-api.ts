/** Shapes the master serves to dashboards (`/api/nodes`, `/api/cameras`, websocket `/ws`). */
export interface CameraView {
  id: string;
  nodeId: string;
  name: string;
  codec: string | null;
  width: number | null;
  height: number | null;
  fps: number | null;
  simulated: boolean;
  state: string;
  online: boolean;
}

export interface NodeView {
  id: string;
  state: 'online' | 'offline';
  agentVersion: string | null;
  hostname: string | null;
  platform: string | null;
  arch: string | null;
  lastSeenAt: string | null;
  lastHeartbeatAt: string | null;
  stateChangedAt: string;
  heartbeat: unknown;
  cameras: CameraView[];
}

/** Messages on the master's dashboard websocket. */
export type FleetSocketMessage = { type: 'snapshot'; nodes: NodeView[] } | { type: 'node'; node: NodeView };
