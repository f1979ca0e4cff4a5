/**
 * What a signed-in user may see and do. Admins see every camera; operators and viewers see
 * the cameras of their access list (or all, when granted `all`). A node is visible when at
 * least one of its cameras is; its other cameras stay hidden.
 */
import type { CameraView, NodeView, Role, SessionUser } from '@cctv/protocol';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function hasRole(user: SessionUser, least: Role): boolean {
  return RANK[user.role] >= RANK[least];
}

export function seesAllCameras(user: SessionUser): boolean {
  return user.role === 'admin' || user.cameras === 'all';
}

export function canSeeCamera(user: SessionUser, cameraId: string): boolean {
  return seesAllCameras(user) || (user.cameras as string[]).includes(cameraId);
}

/** The cameras a user may see, or null for all. */
export function visibleCameraIds(user: SessionUser): string[] | null {
  return seesAllCameras(user) ? null : (user.cameras as string[]);
}

/** The node as the user may see it, or null when none of its cameras is theirs. */
export function visibleNode(user: SessionUser, node: NodeView): NodeView | null {
  if (seesAllCameras(user)) return node;
  const cameras = node.cameras.filter((c) => canSeeCamera(user, c.id));
  return cameras.length > 0 ? { ...node, cameras } : null;
}

export function visibleNodes(user: SessionUser, nodes: NodeView[]): NodeView[] {
  return nodes.flatMap((n) => visibleNode(user, n) ?? []);
}

export function visibleCameras(user: SessionUser, cameras: CameraView[]): CameraView[] {
  return cameras.filter((c) => canSeeCamera(user, c.id));
}
