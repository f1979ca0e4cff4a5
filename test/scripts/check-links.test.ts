/**
 * The Markdown link check of `npm test` (scripts/check-links.mjs) on a folder of its own: a
 * working link, links into code (not links), web links and anchors pass; a link to a file that
 * is not there fails, named with its file and line.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot, tempDir } from '../support/index.ts';

const run = promisify(execFile);
const check = (dir: string) => run(process.execPath, [join(repoRoot, 'scripts/check-links.mjs'), dir]);

test('passes working relative links and fails a broken one with its place', async () => {
  const dir = await tempDir('cctv-links-');
  await mkdir(join(dir, 'docs', 'adr'), { recursive: true });
  await writeFile(join(dir, 'docs', 'adr', '0001-x.md'), '# x\n');
  await writeFile(
    join(dir, 'README.md'),
    [
      'See [the decision](docs/adr/0001-x.md#context) and [the folder](docs/adr/).',
      'Web [links](https://example.org/missing.md) and [anchors](#two-commands) are left alone.',
      'Code is not a link: `[a](nowhere.md)`.',
      '```',
      '[b](nowhere-either.md)',
      '```',
      '',
    ].join('\n'),
  );
  const ok = await check(dir);
  assert.match(ok.stdout, /2 relative links in Markdown, none broken/);

  await writeFile(join(dir, 'docs', 'GUIDE.md'), 'Intro.\n\nRead [the targets](TARGETS.md).\n');
  await assert.rejects(check(dir), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, /docs\/GUIDE\.md:3: TARGETS\.md/);
    return true;
  });
});
