import type { Role } from '@cctv/protocol';

export interface NavItem {
  href: string;
  label: string;
  /** The least role that sees the entry (the master enforces the rest). */
  least: Role;
}

/** The top navigation: each page and the least role that sees it. */
export const NAV: readonly NavItem[] = [
  { href: '/wall', label: 'Live wall', least: 'viewer' },
  { href: '/', label: 'Fleet', least: 'viewer' },
  { href: '/timeline', label: 'Timeline', least: 'viewer' },
  { href: '/events', label: 'Events', least: 'viewer' },
  { href: '/alerts', label: 'Alerts', least: 'viewer' },
  { href: '/exports', label: 'Exports', least: 'operator' },
  // The first settings page the role may use (app/settings/page.tsx).
  { href: '/settings', label: 'Settings', least: 'operator' },
];

/** The settings pages, in the order of their tabs; `/settings` opens the first one allowed. */
export const SETTINGS_NAV: readonly NavItem[] = [
  { href: '/settings/users', label: 'Users', least: 'admin' },
  { href: '/settings/nodes', label: 'Nodes', least: 'admin' },
  { href: '/settings/audit', label: 'Audit log', least: 'admin' },
  { href: '/settings/alerts', label: 'Alerts', least: 'admin' },
  { href: '/settings/cameras', label: 'Cameras', least: 'operator' },
];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

const allowed = (items: readonly NavItem[], role: Role | null): NavItem[] =>
  role ? items.filter((item) => RANK[role] >= RANK[item.least]) : [];

export const navFor = (role: Role | null): NavItem[] => allowed(NAV, role);
export const settingsFor = (role: Role | null): NavItem[] => allowed(SETTINGS_NAV, role);

/** Whether the entry `href` is the current page or one under it (`/` only itself). */
export function isCurrent(href: string, pathname: string): boolean {
  if (href === '/') return pathname === '/';
  return pathname === href || pathname.startsWith(`${href}/`);
}
