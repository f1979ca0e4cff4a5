import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { StartedParts } from '../src/started-parts.ts';

describe('started parts', () => {
  it('stops every part in reverse, each once, past one that fails to stop', async () => {
    const stopped: string[] = [];
    const parts = new StartedParts(pino({ level: 'silent' }));
    parts.add('uploader', () => stopped.push('uploader'));
    parts.add('cameras', async () => {
      stopped.push('cameras');
      throw new Error('stuck');
    });
    parts.add('metrics', async () => stopped.push('metrics'));
    await parts.stopAll();
    assert.deepEqual(stopped, ['metrics', 'cameras', 'uploader']);
    await parts.stopAll();
    assert.equal(stopped.length, 3);
  });
});
