import type { FileHandle } from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseByteRange } from './byte-range.ts';
import { sendError } from './http-error.ts';

export interface OpenedFile {
  handle: FileHandle;
  size: number;
}

/**
 * Answers a GET or HEAD with an opened file: whole, or the single byte range asked for
 * (`206`, `416` past the end). The handle is closed on every path. Content type and
 * caching headers are the caller's, set before.
 */
export async function sendOpenedFile(
  request: FastifyRequest,
  reply: FastifyReply,
  file: OpenedFile,
): Promise<FastifyReply> {
  const range = parseByteRange(request.headers.range, file.size);
  reply.header('accept-ranges', 'bytes');
  if (range === 'unsatisfiable') {
    await file.handle.close();
    reply.header('content-range', `bytes */${file.size}`);
    return sendError(reply, 416, 'range_not_satisfiable', `range is outside the ${file.size} bytes`);
  }
  const { start, end } = range ?? { start: 0, end: file.size - 1 };
  if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${file.size}`);
  reply.header('content-length', String(Math.max(0, end - start + 1)));
  if (request.method === 'HEAD' || file.size === 0) {
    await file.handle.close();
    return reply.send();
  }
  return reply.send(file.handle.createReadStream({ start, end }));
}

/** Whether an `If-None-Match` header names `etag` (weak comparison, RFC 9110 §13.1.2). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => opaque(tag) === opaque(etag));
}
