/**
 * The clock measurement without a broker: the offset arithmetic, the host's sync state from
 * chrony's and timedatectl's output, and `ClockSync` against an in-process answerer whose
 * clock is set apart from the agent's, with late, foreign and malformed answers in between.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type TimeAnswer, type TimeRequest, topics } from '@cctv/protocol';
import { pino } from 'pino';
import { bestOffset, clockOffset } from '../src/clock/clock-offset.ts';
import { ClockSync } from '../src/clock/clock-sync.ts';
import { parseChronyTracking, parseTimedatectl, readHostSync } from '../src/clock/host-sync.ts';

const logger = pino({ level: 'silent' });

describe('clock offset arithmetic', () => {
  it('reads an agent 90 s ahead as +90 s, whatever the symmetric delay', () => {
    // Master time T = 1000; agent = T + 90 000; 5 ms each way; the master holds it 1 ms.
    const t0 = 91_000;
    const t1 = 1_005;
    const t2 = 1_006;
    const t3 = 91_011;
    assert.deepEqual(clockOffset({ t0, t1, t2, t3 }), { offsetMs: 90_000, rttMs: 10 });
    // Behind: negative.
    assert.deepEqual(clockOffset({ t0: 500, t1: 1_005, t2: 1_005, t3: 510 }), { offsetMs: -500, rttMs: 10 });
  });

  it('is off by at most half the round trip when the legs differ', () => {
    // True offset 0; 1 ms out, 9 ms back.
    const o = clockOffset({ t0: 0, t1: 1, t2: 1, t3: 10 });
    assert.equal(o.rttMs, 10);
    assert.equal(o.offsetMs, 4);
    assert.ok(Math.abs(o.offsetMs) <= o.rttMs / 2);
  });

  it('takes the sample with the shortest round trip; skips stepped clocks', () => {
    const best = bestOffset([
      { t0: 0, t1: 30, t2: 30, t3: 40 }, // rtt 40, offset -10
      { t0: 100, t1: 102, t2: 102, t3: 104 }, // rtt 4, offset 0
      { t0: 200, t1: 100, t2: 100, t3: 150 }, // rtt -50: a clock stepped
    ]);
    assert.deepEqual(best, { offsetMs: 0, rttMs: 4 });
    assert.equal(bestOffset([]), null);
    assert.equal(bestOffset([{ t0: 10, t1: 0, t2: 0, t3: 5 }]), null);
  });
});

describe('host time synchronisation', () => {
  const chrony = (ref: string, stratum: number, leap: string) =>
    `${ref},ntp.example.org,${stratum},1764920000.123456789,-0.000012345,0.000001234,0.000023456,-12.345,0.001,0.012,0.012345678,0.001234567,64.5,${leap}\n`;

  it('reads chrony as synchronised with a reference and a leap status other than "Not synchronised"', () => {
    assert.equal(parseChronyTracking(chrony('A29FC87B', 3, 'Normal')), true);
    assert.equal(parseChronyTracking(chrony('A29FC87B', 3, 'Insert second')), true);
    assert.equal(parseChronyTracking(chrony('A29FC87B', 3, 'Not synchronised')), false);
    assert.equal(parseChronyTracking(chrony('00000000', 0, 'Normal')), false);
    assert.equal(parseChronyTracking('506 Cannot talk to daemon\n'), null);
    assert.equal(parseChronyTracking(''), null);
  });

  it('reads timedatectl yes and no; anything else is unknown', () => {
    assert.equal(parseTimedatectl('yes\n'), true);
    assert.equal(parseTimedatectl('no\n'), false);
    assert.equal(parseTimedatectl(''), null);
    assert.equal(parseTimedatectl('System has not been booted with systemd as init system (PID 1).'), null);
  });

  it('asks chrony first, then timedatectl, and says null when neither answers', async () => {
    const absent = Object.assign(new Error('spawn chronyc ENOENT'), { code: 'ENOENT' });
    const calls: string[] = [];
    const runner = (answers: Record<string, string | Error>) => async (file: string) => {
      calls.push(file);
      const a = answers[file];
      if (a === undefined || a instanceof Error) throw a ?? absent;
      return a;
    };
    assert.deepEqual(await readHostSync(runner({ chronyc: chrony('7F7F0101', 10, 'Normal') })), {
      synced: true,
      source: 'chrony',
    });
    assert.deepEqual(calls, ['chronyc']);
    assert.deepEqual(await readHostSync(runner({ timedatectl: 'no\n' })), {
      synced: false,
      source: 'timedatectl',
    });
    assert.deepEqual(await readHostSync(runner({ chronyc: 'garbage', timedatectl: new Error('exit 1') })), {
      synced: null,
      source: null,
    });
  });

  it('never throws on this host, whatever it has', async () => {
    const state = await readHostSync();
    assert.ok(['chrony', 'timedatectl', null].includes(state.source));
  });
});

describe('ClockSync', () => {
  /** A master whose clock is `masterMinusAgentMs` from the agent's; answers in-process. */
  function rig(opts: {
    masterMinusAgentMs: number;
    answer?: (req: TimeRequest, send: (a: unknown) => void) => void;
  }) {
    let agentNow = 1_764_920_000_000;
    const sent: string[] = [];
    const measured: unknown[] = [];
    const sync: ClockSync = new ClockSync({
      nodeId: 'n1',
      logger,
      now: () => agentNow,
      answerTimeoutMs: 50,
      burst: 3,
      hostSync: async () => ({ synced: true, source: 'chrony' }),
      onMeasured: (c) => measured.push(c),
      send: async (topic, payload) => {
        sent.push(topic);
        const req = JSON.parse(payload) as TimeRequest;
        const deliver = (a: unknown) => setImmediate(() => sync.receive(Buffer.from(JSON.stringify(a))));
        if (opts.answer) return opts.answer(req, deliver);
        // 2 ms on the way out, the master holds it 1 ms, 2 ms back.
        agentNow += 2;
        const t1 = agentNow + opts.masterMinusAgentMs;
        const answer: TimeAnswer = { id: req.id, t0: req.t0, t1, t2: t1 + 1 };
        agentNow += 3;
        deliver(answer);
      },
    });
    return { sync, sent, measured };
  }

  it('measures an agent 90 s ahead as +90 s and keeps it for heartbeats', async () => {
    const { sync, sent, measured } = rig({ masterMinusAgentMs: -90_000 });
    assert.equal(sync.current(), null);
    await sync.measure();
    assert.deepEqual(sent, [topics.time('n1'), topics.time('n1'), topics.time('n1')]);
    const c = sync.current();
    assert.ok(c);
    assert.equal(c.offsetMs, 90_000);
    assert.equal(c.rttMs, 4);
    assert.equal(c.synced, true);
    assert.equal(c.source, 'chrony');
    assert.ok(!Number.isNaN(Date.parse(c.measuredAt)));
    assert.deepEqual(measured, [c]);
    await sync.stop();
  });

  it('ignores foreign, echoed-wrong and malformed answers, and keeps nothing without a real one', async () => {
    const { sync, sent } = rig({
      masterMinusAgentMs: 0,
      answer: (req, deliver) => {
        deliver({ id: 'someone-else', t0: req.t0, t1: 1, t2: 1 });
        deliver({ id: req.id, t0: req.t0 + 1, t1: 1, t2: 1 });
        deliver({ id: req.id, t0: req.t0, t1: 'soon' });
      },
    });
    await sync.measure();
    // The first request went unanswered: the burst stops there.
    assert.equal(sent.length, 1);
    assert.equal(sync.current(), null);
    await sync.stop();
  });

  it('measures nothing while the link is down, and asks again at once when it is back', async () => {
    let attempts = 0;
    const sync = new ClockSync({
      nodeId: 'n1',
      logger,
      send: () => {
        attempts++;
        return Promise.reject(new Error('not connected'));
      },
    });
    await sync.measure();
    await sync.measure();
    assert.equal(sync.current(), null);
    assert.equal(attempts, 2);
    await sync.stop();
  });

  it('pauses after bursts nobody answers, a minute doubling to an hour, until one is answered', async () => {
    let monotonic = 0;
    let answering = false;
    let requests = 0;
    const sync: ClockSync = new ClockSync({
      nodeId: 'n1',
      logger,
      answerTimeoutMs: 5,
      intervalMs: 60_000,
      monotonic: () => monotonic,
      hostSync: async () => ({ synced: null, source: null }),
      // An older master: the request leaves, nothing comes back (its broker may even end the
      // connection, so asking at every reconnect would keep the node from staying connected).
      send: async (_topic, payload) => {
        requests++;
        if (!answering) return;
        const req = JSON.parse(payload) as TimeRequest;
        const answer: TimeAnswer = { id: req.id, t0: req.t0, t1: req.t0, t2: req.t0 };
        setImmediate(() => sync.receive(Buffer.from(JSON.stringify(answer))));
      },
    });
    await sync.measure();
    assert.equal(requests, 1, 'the first request is not answered: the burst stops there');
    await sync.measure(); // a reconnect right after
    monotonic += 59_000;
    await sync.measure();
    assert.equal(requests, 1, 'asked again within the pause');
    monotonic += 1_000;
    await sync.measure();
    assert.equal(requests, 2);
    monotonic += 60_000; // the second pause is two minutes
    await sync.measure();
    assert.equal(requests, 2);
    monotonic += 60_000;
    answering = true;
    await sync.measure();
    assert.equal(requests, 3 + 4, 'an answered burst runs its five requests');
    assert.equal(sync.current()?.offsetMs, 0);
    await sync.measure();
    assert.equal(requests, 12, 'after an answer no pause');
    answering = false;
    for (let i = 0; i < 12; i++) {
      monotonic += 3_600_000;
      await sync.measure();
    }
    assert.equal(requests, 24, 'an hour is always past the pause');
    const before = requests;
    monotonic += 3_599_000;
    await sync.measure();
    assert.equal(requests, before, 'paused');
    monotonic += 1_000;
    await sync.measure();
    assert.equal(requests, before + 1, 'the pause stops growing at an hour');
    await sync.stop();
  });
});
