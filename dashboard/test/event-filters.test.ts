import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { masterPaths } from '@cctv/protocol/master-routes';
import {
  compareEvents,
  DEFAULT_PAGE_SIZE,
  DEFAULT_WINDOW_MS,
  type EventFilters,
  effectiveFrom,
  eventsQuery,
  filtersToSearch,
  fromLocalInput,
  matchesFilters,
  NO_FILTERS,
  parseFilters,
  parseZones,
  toLocalInput,
} from '../features/events/event-filters.ts';
import { eventView } from './support/views.ts';

// toLocalInput and fromLocalInput read the browser's zone: a fixed one with a half-hour offset.
process.env.TZ = 'Asia/Kolkata';

const none: EventFilters = NO_FILTERS;
const params = (search: string) => Object.fromEntries(new URLSearchParams(search));

describe('parseFilters', () => {
  it('reads every filter and normalises times to ISO in UTC', () => {
    const { filters, dropped } = parseFilters({
      camera: 'cam-1',
      type: 'face',
      from: '2026-03-01T10:00:00+02:00',
      to: '2026-03-02T00:00:00Z',
      minScore: '0.25',
      zones: 'door, yard.2',
      limit: '100',
    });
    assert.deepEqual(filters, {
      camera: 'cam-1',
      type: 'face',
      from: '2026-03-01T08:00:00.000Z',
      to: '2026-03-02T00:00:00.000Z',
      minScore: 0.25,
      zones: ['door', 'yard.2'],
      limit: 100,
    });
    assert.deepEqual(dropped, []);
  });

  it('has no filters and drops nothing for an empty query or empty values', () => {
    assert.deepEqual(parseFilters({}), { filters: none, dropped: [] });
    assert.deepEqual(parseFilters(params('camera=&type=&from=&to=&minScore=&limit=')), {
      filters: none,
      dropped: [],
    });
  });

  it('drops what makes no sense and says which', () => {
    const { filters, dropped } = parseFilters({
      camera: 'Cam 1',
      type: 'person',
      from: 'yesterday',
      to: '2026-13-45T99:00:00Z',
      minScore: 'high',
      limit: 'ten',
      zones: 'door,-yard',
    });
    assert.deepEqual(filters, none);
    assert.deepEqual(dropped, ['camera', 'type', 'from', 'to', 'minScore', 'limit', 'zones']);
  });

  it('refuses camera ids the master would refuse', () => {
    for (const bad of ['-cam', 'CAM1', 'cam_1', 'x'.repeat(64), '../nodes'])
      assert.deepEqual(parseFilters({ camera: bad }).dropped, ['camera'], bad);
    assert.equal(parseFilters({ camera: 'x'.repeat(63) }).filters.camera, 'x'.repeat(63));
  });

  it('takes `any` as no type filter, without a note', () => {
    assert.deepEqual(parseFilters({ type: 'any' }), { filters: none, dropped: [] });
    assert.equal(parseFilters({ type: 'motion' }).filters.type, 'motion');
  });

  it('keeps a score in 0..1 only', () => {
    assert.equal(parseFilters({ minScore: '0' }).filters.minScore, 0);
    assert.equal(parseFilters({ minScore: '1' }).filters.minScore, 1);
    for (const bad of ['-0.1', '1.01', 'NaN', 'Infinity'])
      assert.deepEqual(parseFilters({ minScore: bad }), { filters: none, dropped: ['minScore'] }, bad);
  });

  it('keeps a whole page size of 1..500 only', () => {
    assert.equal(parseFilters({ limit: '1' }).filters.limit, 1);
    assert.equal(parseFilters({ limit: '500' }).filters.limit, 500);
    for (const bad of ['0', '501', '2.5', '-3'])
      assert.deepEqual(parseFilters({ limit: bad }), { filters: none, dropped: ['limit'] }, bad);
  });

  it('takes the first of repeated parameters', () => {
    const { filters } = parseFilters({ camera: ['cam2', 'cam3'], type: ['motion', 'face'] });
    assert.equal(filters.camera, 'cam2');
    assert.equal(filters.type, 'motion');
  });
});

describe('parseZones', () => {
  it('trims, drops empty and repeated names, keeps the order', () => {
    assert.deepEqual(parseZones(' door ,yard,, door,back yard '), ['door', 'yard', 'back yard']);
    assert.deepEqual(parseZones(''), []);
  });

  it('refuses a name the master would refuse, and more names than a search takes', () => {
    for (const bad of ['-door', 'door!', 'x'.repeat(64), 'a/b']) assert.equal(parseZones(bad), null, bad);
    const many = Array.from({ length: 33 }, (_, i) => `z${i}`);
    assert.equal(parseZones(many.join(',')), null);
    assert.equal(parseZones(many.slice(0, 32).join(','))?.length, 32);
  });
});

describe('filtersToSearch', () => {
  it('is empty without filters and in a stable order with them', () => {
    assert.equal(filtersToSearch(none), '');
    assert.equal(
      filtersToSearch({
        limit: 50,
        minScore: 0.5,
        zones: ['door', 'back yard'],
        to: '2026-03-02T00:00:00.000Z',
        from: '2026-03-01T00:00:00.000Z',
        type: 'motion',
        camera: 'cam1',
      }),
      '?camera=cam1&type=motion&from=2026-03-01T00%3A00%3A00.000Z&to=2026-03-02T00%3A00%3A00.000Z&minScore=0.5&zones=door%2Cback+yard&limit=50',
    );
  });

  it('leaves out a score of 0, which filters nothing', () => {
    assert.equal(filtersToSearch({ ...none, minScore: 0 }), '');
  });

  it('round-trips through parseFilters', () => {
    const cases: EventFilters[] = [
      none,
      { ...none, camera: 'cam-7' },
      { ...none, type: 'face', minScore: 0.05 },
      { ...none, from: '2026-03-01T00:00:00.000Z', to: '2026-03-01T06:30:00.500Z' },
      { ...none, zones: ['door', 'back yard'] },
      {
        camera: 'a',
        type: 'motion',
        from: '2026-01-01T00:00:00.000Z',
        to: null,
        minScore: 1,
        zones: ['z1'],
        limit: 500,
      },
    ];
    for (const f of cases) {
      const back = parseFilters(params(filtersToSearch(f)));
      assert.deepEqual(back, { filters: f, dropped: [] });
    }
  });
});

describe('the search the filters run', () => {
  const now = Date.parse('2026-03-02T12:00:00.000Z');

  it('starts the default window 24 h before now', () => {
    assert.equal(DEFAULT_WINDOW_MS, 24 * 3600_000);
    assert.equal(effectiveFrom(none, now), '2026-03-01T12:00:00.000Z');
    assert.equal(
      effectiveFrom({ ...none, from: '2026-02-01T00:00:00.000Z' }, now),
      '2026-02-01T00:00:00.000Z',
    );
  });

  it('asks the master with its own parameter names, the default page size and a cursor', () => {
    const path = masterPaths.events(eventsQuery(none, '2026-03-01T12:00:00.000Z', null));
    assert.equal(path, `/api/events?from=2026-03-01T12%3A00%3A00.000Z&limit=${DEFAULT_PAGE_SIZE}`);
    const q = new URL(
      masterPaths.events(
        eventsQuery(
          {
            camera: 'cam1',
            type: 'face',
            from: null,
            to: '2026-03-02T00:00:00.000Z',
            minScore: 0.4,
            zones: ['door', 'yard'],
            limit: 200,
          },
          '2026-03-01T00:00:00.000Z',
          'abc+/=',
        ),
      ),
      'http://x',
    ).searchParams;
    assert.deepEqual(Object.fromEntries(q), {
      cameras: 'cam1',
      types: 'face',
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-03-02T00:00:00.000Z',
      minScore: '0.4',
      zones: 'door,yard',
      limit: '200',
      cursor: 'abc+/=',
    });
  });
});

describe('matchesFilters', () => {
  const from = '2026-03-01T09:00:00.000Z';

  it('takes a pushed event that fits every filter', () => {
    const e = eventView({ cameraId: 'cam1', type: 'motion', score: 0.5 });
    assert.equal(matchesFilters(e, none, from), true);
    assert.equal(matchesFilters(e, { ...none, camera: 'cam1', type: 'motion', minScore: 0.5 }, from), true);
  });

  it('leaves out other cameras, types and lower scores', () => {
    const e = eventView({ cameraId: 'cam1', type: 'motion', score: 0.5 });
    assert.equal(matchesFilters(e, { ...none, camera: 'cam2' }, from), false);
    assert.equal(matchesFilters(e, { ...none, type: 'face' }, from), false);
    assert.equal(matchesFilters(e, { ...none, minScore: 0.51 }, from), false);
  });

  it('takes an event that touched any of the zones asked for, and only those', () => {
    const e = eventView({ zones: ['door', 'yard'] });
    assert.equal(matchesFilters(e, { ...none, zones: ['gate', 'yard'] }, from), true);
    assert.equal(matchesFilters(e, { ...none, zones: ['gate'] }, from), false);
    assert.equal(matchesFilters(eventView({ zones: [] }), { ...none, zones: ['door'] }, from), false);
  });

  it('keeps the window half-open: from included, to excluded', () => {
    const at = (startedAt: string) => eventView({ startedAt });
    const f = { ...none, to: '2026-03-01T10:00:00.000Z' };
    assert.equal(matchesFilters(at('2026-03-01T08:59:59.999Z'), f, from), false);
    assert.equal(matchesFilters(at(from), f, from), true);
    assert.equal(matchesFilters(at('2026-03-01T09:59:59.999Z'), f, from), true);
    assert.equal(matchesFilters(at('2026-03-01T10:00:00.000Z'), f, from), false);
  });
});

describe('compareEvents', () => {
  it('sorts newest first, then by id descending, like the master', () => {
    const a = eventView({ id: 'a', startedAt: '2026-03-01T10:00:00.000Z' });
    const b = eventView({ id: 'b', startedAt: '2026-03-01T10:00:00.000Z' });
    const c = eventView({ id: 'c', startedAt: '2026-03-01T09:00:00.000Z' });
    const d = eventView({ id: 'd', startedAt: '2026-03-01T11:00:00.000Z' });
    assert.deepEqual(
      [c, a, d, b].sort(compareEvents).map((e) => e.id),
      ['d', 'b', 'a', 'c'],
    );
  });
});

describe('datetime-local values', () => {
  it('shows an ISO time in the local zone with seconds', () => {
    assert.equal(toLocalInput('2026-03-01T18:45:07.900Z'), '2026-03-02T00:15:07');
    assert.equal(toLocalInput(null), '');
    assert.equal(toLocalInput(''), '');
    assert.equal(toLocalInput('not a time'), '');
  });

  it('reads a local value back as ISO', () => {
    assert.equal(fromLocalInput('2026-03-02T00:15:07'), '2026-03-01T18:45:07.000Z');
    assert.equal(fromLocalInput('2026-03-02T00:15'), '2026-03-01T18:45:00.000Z');
    assert.equal(fromLocalInput(''), null);
    assert.equal(fromLocalInput('2026-02-30T25:00'), null);
  });

  it('round-trips to the second', () => {
    const iso = '2026-07-15T23:59:59.000Z';
    assert.equal(fromLocalInput(toLocalInput(iso)), iso);
  });
});
