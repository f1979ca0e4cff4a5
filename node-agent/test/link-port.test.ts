import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LinkPort } from '../src/link/link-port.ts';
import { livePlanner } from '../src/live/plan-for.ts';

/** A link stand-in noting what reaches it. */
function fakeLink() {
  const seen: string[] = [];
  return {
    seen,
    republishHello: () => void seen.push('hello'),
    publishQueued: async (topic: string) => void seen.push(topic),
  };
}

describe('LinkPort', () => {
  it('drops hello refreshes before the link, and holds queued messages until it has started', async () => {
    const port = new LinkPort();
    port.republishHello(); // nothing to refresh yet: the link sends hello when it connects
    const queued = port.publishQueued('cctv/v1/nodes/n/events', '{}');
    const link = fakeLink();
    let started: () => void = () => {};
    port.attach(
      link,
      new Promise<void>((done) => {
        started = done;
      }),
    );
    port.republishHello();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(link.seen, ['hello'], 'the event waits for the outbox');
    started();
    await queued;
    assert.deepEqual(link.seen, ['hello', 'cctv/v1/nodes/n/events']);
  });

  it('leaves queued messages unsent, without an unhandled rejection, when the link fails to start', async () => {
    const port = new LinkPort();
    port.attach(fakeLink(), Promise.reject(new Error('outbox folder not writable')));
    await assert.rejects(port.publishQueued('cctv/v1/nodes/n/events', '{}'), /outbox folder not writable/);
  });
});

describe('livePlanner', () => {
  it('plans the running cameras by their definitions, and nothing for others', () => {
    const planFor = livePlanner({
      definition: (id) =>
        id === 'n-sim' ? { id, spec: { simulated: { width: 320, height: 180, fps: 10 } } } : undefined,
      font: null,
      readTimeoutS: 15,
      rememberedTransport: () => undefined,
    });
    assert.equal(planFor('n-sim')?.label, 'simulated');
    assert.equal(planFor('elsewhere'), null);
  });
});
