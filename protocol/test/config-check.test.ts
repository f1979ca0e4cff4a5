import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { ConfigProblems, checkSchema } from '../src/config-check.ts';

describe('config checks', () => {
  it('fills defaults and names every mismatch by its key path', () => {
    const schema = Type.Object(
      {
        id: Type.String({ pattern: '^[a-z]+$' }),
        spool: Type.Object({ quota: Type.Integer({ minimum: 1, default: 10 }) }, { default: {} }),
        port: Type.Integer({ maximum: 65535 }),
      },
      { additionalProperties: false },
    );
    const fine = new ConfigProblems();
    assert.deepEqual(checkSchema(schema, { id: 'abc', port: 1 }, fine), {
      id: 'abc',
      port: 1,
      spool: { quota: 10 },
    });
    assert.equal(fine.empty, true);

    const bad = new ConfigProblems();
    checkSchema(schema, { id: 'A', port: 70000, spool: { quota: 0 }, extra: 1 }, bad);
    const list = bad.list();
    assert.ok(
      list.some((p) => p.startsWith('id: ') && p.endsWith('(pattern ^[a-z]+$)')),
      list.join('\n'),
    );
    assert.ok(list.some((p) => p.startsWith('port: ')));
    assert.ok(list.some((p) => p.startsWith('spool.quota: ')));
    assert.ok(list.includes('extra: Unexpected property'), list.join('\n'));
  });

  it('collects thrown problems, each once, and throws them together', () => {
    const p = new ConfigProblems();
    assert.equal(
      p.attempt(
        () => {
          throw new Error('too short');
        },
        'fallback',
        'PASSWORD: ',
      ),
      'fallback',
    );
    p.add('X is required');
    p.add('X is required');
    assert.throws(() => p.throwIfAny((list) => new Error(list.join('|'))), {
      message: 'PASSWORD: too short|X is required',
    });
    new ConfigProblems().throwIfAny(() => new Error('nothing to throw'));
  });
});
