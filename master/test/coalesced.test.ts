import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coalesced } from '../src/fleet/coalesced.ts';

/** A job whose runs are finished by hand, counting how often it was started. */
function gatedJob() {
  const finish: Array<() => void> = [];
  let runs = 0;
  const run = () => {
    runs++;
    return new Promise<void>((done) => finish.push(done));
  };
  return { run, runs: () => runs, finishNext: () => finish.shift()?.() };
}

const tick = () => new Promise<void>((done) => setImmediate(done));

describe('coalesced', () => {
  it('runs once for a call made while idle', async () => {
    const job = gatedJob();
    const refresh = coalesced(job.run, (err) => assert.fail(String(err)));
    const done = refresh();
    assert.equal(job.runs(), 1);
    job.finishNext();
    await done;
    assert.equal(job.runs(), 1);
  });

  it('folds every call made during a run into one more run after it', async () => {
    const job = gatedJob();
    const refresh = coalesced(job.run, (err) => assert.fail(String(err)));
    const first = refresh();
    const during = Array.from({ length: 1000 }, () => refresh());
    await Promise.all(during); // they return at once: the running call owns the work
    assert.equal(job.runs(), 1);
    job.finishNext();
    await tick();
    assert.equal(job.runs(), 2);
    job.finishNext();
    await first;
    assert.equal(job.runs(), 2);
    // idle again: the next call runs by itself
    const later = refresh();
    assert.equal(job.runs(), 3);
    job.finishNext();
    await later;
  });

  it('reports a failed run and stays usable', async () => {
    const errors: unknown[] = [];
    let fail = true;
    let runs = 0;
    const refresh = coalesced(
      async () => {
        runs++;
        if (fail) throw new Error('database away');
      },
      (err) => errors.push(err),
    );
    await refresh();
    assert.equal(errors.length, 1);
    fail = false;
    await refresh();
    assert.equal(runs, 2);
    assert.equal(errors.length, 1);
  });
});
