/**
 * The users page's pure parts: the roles and camera access as the contract states them, a form's
 * values turned into the master's request, and how a user's access reads in a list. The master
 * checks everything again (password rules, the last admin, a taken name); these only catch
 * what is plainly missing before asking.
 */
import type { CameraAccess, Role, UserCreateRequest, UserView } from '@cctv/protocol';
import { masterRoutes } from '@cctv/protocol/master-routes';

/** The roles, least first, read from the contract of `POST /api/users`. */
export const ROLES: readonly Role[] = masterRoutes.userCreate.body.properties.role.anyOf
  .map((r) => r.const)
  .sort((a, b) => rank(a) - rank(b));

function rank(role: Role): number {
  return role === 'viewer' ? 0 : role === 'operator' ? 1 : 2;
}

/** Columns of the users table; a user's edit row spans them all. */
export const USER_COLUMNS = 6;

/** Every camera, or the chosen ones. */
export interface CameraChoice {
  all: boolean;
  ids: readonly string[];
}

export const choiceOf = (access: CameraAccess): CameraChoice =>
  access === 'all' ? { all: true, ids: [] } : { all: false, ids: access };

export const accessOf = (choice: CameraChoice): CameraAccess =>
  choice.all ? 'all' : [...new Set(choice.ids)].sort();

export interface NewUserForm {
  username: string;
  password: string;
  role: Role;
  cameras: CameraChoice;
}

/** The request for a new user, or what is missing. */
export function createRequest(form: NewUserForm): UserCreateRequest | { problem: string } {
  const username = form.username.trim();
  if (!username) return { problem: 'a username is needed' };
  if (!form.password) return { problem: 'a password is needed' };
  if (!form.cameras.all && form.cameras.ids.length === 0)
    return { problem: 'choose at least one camera, or all cameras' };
  return { username, password: form.password, role: form.role, cameras: accessOf(form.cameras) };
}

/** "all cameras", or the chosen ones by name where known. */
export function accessSummary(access: CameraAccess, names: ReadonlyMap<string, string>): string {
  if (access === 'all') return 'all cameras';
  if (access.length === 0) return 'no cameras';
  return access.map((id) => names.get(id) || id).join(', ');
}

/** Whether `choice` differs from what the user has. */
export function accessChanged(user: Pick<UserView, 'cameras'>, choice: CameraChoice): boolean {
  const next = accessOf(choice);
  if (user.cameras === 'all' || next === 'all') return user.cameras !== next;
  return [...user.cameras].sort().join(',') !== next.join(',');
}

/** Admins first, then by name. */
export function sortUsers(users: readonly UserView[]): UserView[] {
  return [...users].sort((a, b) => rank(b.role) - rank(a.role) || a.username.localeCompare(b.username));
}
