import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { GatewayRoute } from '@cctv/protocol/gateway-routes';
import type { FastifyInstance } from 'fastify';
import { isMediaType } from './http-error.ts';
import { fromContract } from './route-contract.ts';

export interface StreamedUpload {
  camera: string;
  name: string;
  headers: IncomingHttpHeaders;
  body: Readable;
  address?: string;
}

/** What an upload route asks of the service that owns its rules (ingest, snapshots). */
export interface UploadRules {
  /** Validates the request line and headers before any body byte is read; throws the refusal. */
  precheck(camera: string, name: string, headers: IncomingHttpHeaders): unknown;
  upload(req: StreamedUpload): Promise<{ status: 'created' | 'exists' }>;
  /** The counted refusal of a `content-type` fastify could not even parse. */
  refuseContentType(camera: string, name: string, value: string): Error;
}

export interface UploadContracts {
  /** `PUT …/:camera/:name` */
  upload: GatewayRoute;
  /** `PUT …/*`: any other depth, always refused */
  badPath: GatewayRoute;
  /** The refusal of a path of another depth, once its parts passed the precheck. */
  badPathError: () => Error;
}

/**
 * The two upload routes of one kind of file: the body is streamed to disk by `rules`' owner,
 * never buffered or parsed here; every refusal is that owner's, so it is counted.
 */
export function streamedUploadRoutes(
  app: FastifyInstance,
  rules: UploadRules,
  contracts: UploadContracts,
): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
  // A content-type fastify cannot parse would be refused before the handler, uncounted.
  app.addHook('onRequest', async (request) => {
    const type = request.headers['content-type'];
    if (request.method === 'PUT' && type !== undefined && !isMediaType(type)) {
      const params = request.params as { camera?: string; name?: string; '*'?: string };
      throw rules.refuseContentType(
        params.camera ?? params['*']?.split('/')[0] ?? '',
        params.name ?? '',
        type,
      );
    }
  });

  app.route<{ Params: { camera: string; name: string } }>({
    ...fromContract(contracts.upload),
    // What the schema refuses, the owner's precheck refuses too, with the precise code, counted,
    // before a body byte is read: the schema's verdict is attached, not answered.
    attachValidation: true,
    handler: async (request, reply) => {
      const { camera, name } = request.params;
      const result = await rules.upload({
        camera,
        name,
        headers: request.headers,
        body: request.raw,
        address: request.ip,
      });
      return reply.code(result.status === 'created' ? 201 : 200).send(result);
    },
  });

  // Anything deeper or shallower (`cam/../x`, an encoded slash the router split on) is a bad
  // name too, refused and counted like any other.
  app.route<{ Params: { '*': string } }>({
    ...fromContract(contracts.badPath),
    handler: async (request) => {
      const [camera = '', ...rest] = request.params['*'].split('/');
      rules.precheck(camera, rest.join('/'), request.headers);
      throw contracts.badPathError();
    },
  });
}
