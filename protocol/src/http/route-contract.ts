/**
 * The shape of an HTTP route's contract and the typed path builder made from it. Browser-safe:
 * TypeBox schemas only, nothing compiled (no `validate.ts`), so dashboards import it for URLs.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A non-JSON answer: its content type and what the body is. */
export interface ContentResponse {
  description: string;
  content: Record<string, { schema: TSchema }>;
}

export interface RouteContract {
  method: HttpMethod;
  /** The fastify URL pattern (`/api/nodes/:id`). */
  url: string;
  summary: string;
  /** Served without a session (the default is to deny). */
  public?: boolean;
  /** A websocket: no HTTP answer to describe, left out of the OpenAPI document. */
  websocket?: boolean;
  params?: TSchema;
  querystring?: TSchema;
  body?: TSchema;
  /** Every status the route sends, each with its body. */
  response: Record<number, TSchema | ContentResponse>;
}

/** The body of every refusal: `{error:{code,message}}`. */
export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});
export type ErrorBody = Static<typeof ErrorBody>;

/** A 204 answer: no body. */
export const NoContent = Type.Null({ description: 'no content' });

export type ParamsOf<R> = R extends { params: infer S extends TSchema } ? Static<S> : never;
/** Query fields with a default may be left out. */
export type QueryOf<R> = R extends { querystring: infer S extends TSchema } ? Partial<Static<S>> : never;
export type BodyOf<R> = R extends { body: infer S extends TSchema } ? Static<S> : never;
type SuccessStatus = 200 | 201 | 202 | 204;
/** The JSON body of the route's success answer(s); `null` for 204. */
export type ResponseOf<R extends RouteContract> = {
  [S in SuccessStatus & keyof R['response']]: R['response'][S] extends TSchema
    ? Static<R['response'][S]>
    : never;
}[SuccessStatus & keyof R['response']];

type QueryValue = string | number | boolean | null | undefined;

/** `?a=1&b=x` from a typed object; undefined and null fields are left out, `''` when none is left. */
export function queryString(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(query))
    if (value !== undefined && value !== null) q.set(key, String(value));
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** The route's URL with its `:params` filled in (each encoded) and the query appended. */
export function routePath(url: string, params?: Record<string, string>, query?: Record<string, QueryValue>) {
  const path = url.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new Error(`${url}: no value for :${name}`);
    return encodeURIComponent(value);
  });
  return `${path}${queryString(query)}`;
}

/** A path builder: `(params, query?)` when the URL has params, `(query?)` otherwise. */
export type PathBuilder<R extends RouteContract> = R['params'] extends TSchema
  ? (params: ParamsOf<R>, query?: QueryOf<R>) => string
  : (query?: QueryOf<R>) => string;

/** One path builder per route of a table. */
export function pathBuilders<T extends Record<string, RouteContract>>(
  table: T,
): { [K in keyof T]: PathBuilder<T[K]> } {
  return Object.fromEntries(
    Object.entries(table).map(([name, route]) => [
      name,
      route.params
        ? (params: Record<string, string>, query?: Record<string, QueryValue>) =>
            routePath(route.url, params, query)
        : (query?: Record<string, QueryValue>) => routePath(route.url, undefined, query),
    ]),
    // fromEntries loses the per-route types the mapped type restores.
  ) as unknown as { [K in keyof T]: PathBuilder<T[K]> };
}
