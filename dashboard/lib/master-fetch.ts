/**
 * Requests to the master's API, built from its route contracts (`@cctv/protocol/master-routes`,
 * browser-safe: no validators), so no page writes an `/api/…` path by hand. In the browser the
 * path goes to this site's `/api/*` proxy (same origin: the session cookie travels with it); on
 * the server `askMaster` (lib/master-api.ts) prefixes the master's URL.
 */
import {
  type BodyOf,
  type MasterRouteName,
  type MasterRoutes,
  masterRoutes,
  type ParamsOf,
  type QueryOf,
  type ResponseOf,
  routePath,
} from '@cctv/protocol/master-routes';

type Route<N extends MasterRouteName> = MasterRoutes[N];

/** What a request to route `N` takes: its params when its URL has some, a query, a body. */
export type MasterArgs<N extends MasterRouteName> = (Route<N> extends { params: unknown }
  ? { params: ParamsOf<Route<N>> }
  : { params?: never }) &
  (Route<N> extends { querystring: unknown } ? { query?: QueryOf<Route<N>> } : { query?: never }) &
  (Route<N> extends { body: unknown } ? { body?: BodyOf<Route<N>> } : { body?: never }) & {
    signal?: AbortSignal;
  };

/** The arguments after the route's name: optional when the route needs none of them. */
export type MasterCallArgs<N extends MasterRouteName> =
  Record<string, never> extends MasterArgs<N> ? [MasterArgs<N>?] : [MasterArgs<N>];

/** A `Response` whose `json()` is the route's success body. */
export interface MasterResponse<T> extends Response {
  json(): Promise<T>;
}

export type MasterAnswerOf<N extends MasterRouteName> = ResponseOf<Route<N>>;

/** The path (with query) and fetch options of a request to route `name`. */
export function masterRequest<N extends MasterRouteName>(
  name: N,
  args: MasterArgs<N>,
): { path: string; init: RequestInit } {
  const route = masterRoutes[name];
  const path = routePath(
    route.url,
    args.params as Record<string, string> | undefined,
    args.query as Record<string, string | number | boolean | undefined> | undefined,
  );
  const init: RequestInit = { method: route.method, cache: 'no-store' };
  if (args.signal) init.signal = args.signal;
  if (args.body !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(args.body);
  }
  return { path, init };
}

/** Route `name` through this site's `/api/*` proxy (browser code). */
export function masterFetch<N extends MasterRouteName>(
  name: N,
  ...[args]: MasterCallArgs<N>
): Promise<MasterResponse<MasterAnswerOf<N>>> {
  const { path, init } = masterRequest(name, (args ?? {}) as MasterArgs<N>);
  return fetch(path, init) as Promise<MasterResponse<MasterAnswerOf<N>>>;
}
