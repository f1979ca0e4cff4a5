/**
 * Every refusal the gateway answers with: a snake_case `code` (the JSON `error.code`, and the
 * label a refusal is counted under) and its HTTP status. Each concern names its own codes and
 * statuses in a subclass (`IngestError`, `SnapshotError`, `RenditionError`, `GrantError`);
 * `http/http-error.ts` alone turns one into a reply.
 */
export class GatewayError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    readonly statusCode: number,
    message: string,
    /** Sent as `Retry-After` (seconds): when to come back (buffer full, transcoders busy). */
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
