/**
 * The API's own documents, behind sign-in like every other route: the OpenAPI document
 * (`/api/docs/json`, made by `@fastify/swagger` from the routes' contracts) and a browsable UI
 * (`/api/docs`). Websockets (`/ws`, `/ws/live`) are left out of the document (`hide`): OpenAPI
 * describes no websocket messages; their types are `FleetSocketMessage` and `LiveClientMessage`
 * in protocol.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { DOCS_PREFIX } from './route-schema.ts';

/**
 * The UI's pages load their own scripts, styles, images and the document, and nothing else. The
 * rest of the API keeps helmet's `default-src 'none'`: this replaces it on the UI's routes only.
 * Swagger UI sets inline styles as it renders (blocked, parts of the page do not lay out), so
 * styles may be inline here; scripts may not.
 */
const UI_CSP = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

// biome-ignore lint/suspicious/noExplicitAny: the app's logger and server generics do not matter here
export async function registerApiDocs(app: FastifyInstance<any, any, any, any>): Promise<void> {
  await app.register(swagger, {
    // 3.1: its schemas are JSON Schema, so `anyOf [T, null]` (how answers say "none") is valid.
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'CCTV master API',
        version: '1',
        description:
          'Contracts in protocol/src/http/master-routes.ts. Every route needs a session unless marked otherwise.',
      },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'cctv_session' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ session: [] }, { bearer: [] }],
    },
    // Routes served without a session say so.
    transform: ({ schema, url, route }) => ({
      schema: (route.config as { public?: boolean } | undefined)?.public
        ? { ...schema, security: [] }
        : schema,
      url,
    }),
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX, staticCSP: UI_CSP });
}
