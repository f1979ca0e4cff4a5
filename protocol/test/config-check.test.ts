import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import {
  ConfigProblems,
  checkEnv,
  checkSchema,
  EnvInteger,
  EnvOneOf,
  EnvText,
  envInt,
} from '../src/config-check.ts';

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

  it('checks environment variables by their schema, with their own problem texts', () => {
    const schema = Type.Object({
      PORT: EnvInteger(0, 65535, 'must be a TCP port, got "{value}"'),
      MODE: EnvOneOf(['on', 'off'], 'must be on or off, got {json}'),
      NAME: EnvText(),
    });
    const fine = new ConfigProblems();
    const e = checkEnv(schema, { PORT: ' 80 ', MODE: '', NAME: 'x', OTHER: 'y' }, fine);
    assert.equal(envInt(e.PORT, 1), 80);
    assert.equal(envInt(e.MODE, 1), 1);
    assert.deepEqual(e, { PORT: ' 80 ', NAME: 'x' });
    assert.equal(fine.empty, true);
    const bad = new ConfigProblems();
    checkEnv(schema, { PORT: '65536', MODE: 'maybe' }, bad);
    assert.deepEqual(bad.list(), [
      'PORT must be a TCP port, got "65536"',
      'MODE must be on or off, got "maybe"',
    ]);
    const word = new ConfigProblems();
    checkEnv(schema, { PORT: '1e3' }, word);
    assert.deepEqual(word.list(), ['PORT must be a TCP port, got "1e3"']);
  });
});
