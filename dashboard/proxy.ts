/**
 * Pages need a session: a visitor without the session cookie goes to the sign-in page first,
 * and comes back to the page they asked for. Whether the session is still valid is the
 * master's call, made when the page reads from it (lib/master-api.ts). The path asked for goes
 * along to the layout (`PATH_HEADER`), which keeps a user who must set up a second factor on
 * the account page.
 */
import { type NextRequest, NextResponse } from 'next/server';
import { LOGIN_PATH, loginPath, PATH_HEADER, SESSION_COOKIE } from '@/lib/session';

export function proxy(request: NextRequest) {
  const { pathname, searchParams } = request.nextUrl;
  if (pathname === LOGIN_PATH || request.cookies.has(SESSION_COOKIE)) {
    // Set here whatever the client sent: the layout reads only what this server decided.
    const headers = new Headers(request.headers);
    headers.set(PATH_HEADER, pathname);
    return NextResponse.next({ request: { headers } });
  }
  // The client router's cache-busting parameter is no part of the page to come back to.
  const query = new URLSearchParams(searchParams);
  query.delete('_rsc');
  const search = query.size > 0 ? `?${query}` : '';
  return NextResponse.redirect(new URL(loginPath(`${pathname}${search}`), request.url));
}

export const config = {
  // The API answers 401 itself, and assets must load on the sign-in page.
  matcher: ['/((?!_next/|api/|icon\\.svg$|favicon\\.ico$).*)'],
};
