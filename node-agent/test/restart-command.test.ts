/** `cmd/restart`: answered at once, the restart itself scheduled after the reply, once. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CommandRequest } from '@cctv/protocol';
import { pino } from 'pino';
import { restartCommand } from '../src/link/restart-command.ts';

const logger = pino({ level: 'silent' });
const request = (reqId: string) => ({ reqId }) as CommandRequest;

describe('restart command', () => {
  it('replies first, then restarts once, however often it is asked', async () => {
    const scheduled: { fn: () => void; ms: number }[] = [];
    let restarts = 0;
    const handler = restartCommand({
      logger,
      restart: async () => {
        restarts += 1;
      },
      later: (fn, ms) => scheduled.push({ fn, ms }),
    });
    const reply = (await handler({}, request('r1'))) as { restarting: boolean; at: string };
    assert.equal(reply.restarting, true);
    assert.ok(!Number.isNaN(Date.parse(reply.at)));
    assert.equal(restarts, 0, 'nothing stops before the reply is sent');
    await handler({}, request('r2'));
    assert.equal(scheduled.length, 1, 'a second request does not schedule a second restart');
    assert.ok((scheduled[0]?.ms ?? 0) > 0);
    scheduled[0]?.fn();
    await new Promise((r) => setImmediate(r));
    assert.equal(restarts, 1);
  });

  it('is refused where nothing would start the agent again', async () => {
    const handler = restartCommand({ logger, restart: undefined, later: () => assert.fail('scheduled') });
    assert.throws(() => handler({}, request('r3')), { code: 'UNSUPPORTED' });
  });
});
