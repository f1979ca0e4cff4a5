import { type GatewayRoute, underGrantPrefix } from '@cctv/protocol/gateway-routes';
import type { FastifySchema, HTTPMethods } from 'fastify';

/** A route's method, URL and schemas as its contract in `protocol/` has them. */
export const fromContract = (route: GatewayRoute) => ({
  method: [...route.method] as HTTPMethods[],
  url: route.url,
  schema: route.schema as FastifySchema,
});

/** The same for a granted route, registered inside the plugin under `GRANT_PREFIX`. */
export const fromGrantedContract = (route: GatewayRoute) => ({
  ...fromContract(route),
  url: underGrantPrefix(route),
});
