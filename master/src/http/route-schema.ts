/**
 * Route contracts (`@cctv/protocol`'s `masterRoutes`) as fastify schemas, and the check that
 * holds every route to one: a route without a contract, or registered with other schemas than its
 * contract's, stops the server from starting.
 */
import { type MasterRouteName, masterRoutes, type RouteContract } from '@cctv/protocol';
import type { FastifySchema, RouteOptions } from 'fastify';

type SchemaErrorFormatter = NonNullable<RouteOptions['schemaErrorFormatter']>;

/** The fastify schema of a contract: request schemas, every answer, and its OpenAPI summary. */
export function routeSchema(contract: RouteContract): FastifySchema & { summary: string; hide?: boolean } {
  return {
    summary: contract.summary,
    ...(contract.params ? { params: contract.params } : {}),
    ...(contract.querystring ? { querystring: contract.querystring } : {}),
    ...(contract.body ? { body: contract.body } : {}),
    response: contract.response,
    // Websockets answer no HTTP body to describe: left out of the OpenAPI document.
    ...(contract.websocket ? { hide: true } : {}),
  };
}

/** `schema` and the route's session rule, from its contract; `config` adds to the rule. */
export const routeOf = (name: MasterRouteName, config: { enrolment?: boolean } = {}) => {
  const contract: RouteContract = masterRoutes[name];
  return { schema: routeSchema(contract), config: { ...config, public: contract.public === true } };
};

const byRoute = new Map<string, RouteContract>(
  Object.values(masterRoutes).map((c: RouteContract) => [`${c.method} ${c.url}`, c] as const),
);

/** Routes of the API documents themselves (`@fastify/swagger-ui`), which have no contract. */
export const DOCS_PREFIX = '/api/docs';

/** Throws when a route has no contract or was registered without its schemas or session rule. */
export function checkRouteContract(route: Pick<RouteOptions, 'method' | 'url' | 'schema' | 'config'>): void {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (route.url === DOCS_PREFIX || route.url.startsWith(`${DOCS_PREFIX}/`)) return;
  for (const method of methods) {
    // fastify adds a HEAD route for every GET, with the GET's schemas; `OPTIONS *` is the CORS
    // preflight, answered with headers only.
    if (method === 'HEAD' || (method === 'OPTIONS' && route.url === '*')) continue;
    const contract = byRoute.get(`${method} ${route.url}`);
    if (!contract) throw new Error(`${method} ${route.url} has no contract in protocol (masterRoutes)`);
    const schema = route.schema as FastifySchema | undefined;
    const same =
      schema?.response === contract.response &&
      schema?.params === contract.params &&
      schema?.querystring === contract.querystring &&
      schema?.body === contract.body;
    if (!same) throw new Error(`${method} ${route.url} is not registered with its contract's schemas`);
    const isPublic = (route.config as { public?: boolean } | undefined)?.public === true;
    if (isPublic !== (contract.public === true))
      throw new Error(
        `${method} ${route.url}: public is ${isPublic}, its contract says ${contract.public === true}`,
      );
  }
}

type SchemaErrorError = Error & { code?: string; statusCode?: number };

/**
 * A formatter naming the field at fault, with the error code the route has always answered:
 * `codes` maps `params/id`, `querystring` or `body` (the most specific wins) to a code; anything
 * else keeps fastify's `FST_ERR_VALIDATION`. `hints` replace Ajv's message for a field.
 */
export function schemaErrorsAs(
  codes: Record<string, string>,
  hints: Record<string, string> = {},
  onError?: (field: string) => void,
): SchemaErrorFormatter {
  return (errors, dataVar) => {
    const e = errors[0];
    const missing = (e?.params as { missingProperty?: string } | undefined)?.missingProperty;
    const field = missing ?? e?.instancePath.replace(/^\//, '') ?? '';
    const hint = missing ? 'is required' : (hints[field] ?? e?.message ?? 'is invalid');
    const err: SchemaErrorError = new Error(`${field ? `${dataVar}/${field}` : dataVar} ${hint}`);
    const code = codes[`${dataVar}/${field}`] ?? codes[dataVar];
    if (code) err.code = code;
    err.statusCode = 400;
    onError?.(field || dataVar);
    return err;
  };
}
