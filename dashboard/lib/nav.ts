import type { Role } from '@cctv/protocol';

/** The top navigation: each page and the least role that sees it (the master enforces the rest). */
export const NAV: readonly { href: string; label: string; least: Role }[] = [
  { href: '/wall', label: 'Live wall', least: 'viewer' },
  { href: '/', label: 'Fleet', least: 'viewer' },
  { href: '/timeline', label: 'Timeline', least: 'viewer' },
  { href: '/events', label: 'Events', least: 'viewer' },
  { href: '/exports', label: 'Exports', least: 'operator' },
  { href: '/users', label: 'Users', least: 'admin' },
];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function navFor(role: Role | null): typeof NAV {
  if (!role) return [];
  return NAV.filter((item) => RANK[role] >= RANK[item.least]);
}
