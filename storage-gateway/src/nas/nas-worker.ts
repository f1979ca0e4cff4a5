/**
 * The NAS worker process: runs NasOps for the gateway over IPC. Started by NasClient with the
 * gateway's own Node flags; its configuration comes in argv as JSON. When a request hangs
 * (a dead NFS server) the gateway kills this process and starts another when it has exited.
 */
import { NasError } from './nas-errors.ts';
import { NasOps, type NasOpsConfig, type NasRequest } from './nas-ops.ts';

interface Envelope {
  id: number;
  req: NasRequest;
}

const config = JSON.parse(process.argv[2] ?? '{}') as NasOpsConfig;
const ops = new NasOps(config);

process.on('message', (msg: Envelope) => {
  ops.run(msg.req).then(
    (value) => process.send?.({ id: msg.id, ok: true, value }),
    (err: unknown) =>
      process.send?.({
        id: msg.id,
        ok: false,
        reason: err instanceof NasError ? err.reason : undefined,
        code: (err as NodeJS.ErrnoException | null)?.code,
        message: err instanceof Error ? err.message : String(err),
      }),
  );
});
// The gateway going away (even by kill -9) closes the channel: nothing is left running.
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
