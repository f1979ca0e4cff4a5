/**
 * The dependency gate (scripts/audit.mjs) over recorded npm audit output: a report in npm's
 * v2 shape with two failing advisories and a moderate one, and the answer of a registry whose
 * advisory endpoint refuses the request.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { advisories, evaluate } from '../../scripts/audit.mjs';
import { repoRoot } from '../support/index.ts';

const run = promisify(execFile);
const fixtures = join(repoRoot, 'test', 'scripts', 'fixtures');
const report = JSON.parse(readFileSync(join(fixtures, 'npm-audit-report.json'), 'utf8'));
const TODAY = '2027-01-10';
const allow = (entries: object[]) => ({ advisories: entries });
const critical = {
  id: 'GHSA-2222-3333-4444',
  package: 'fast-jwt-example',
  reason: 'reached only through the admin CLI',
  expires: '2027-02-01',
};
const high = {
  id: 'https://github.com/advisories/GHSA-5555-6666-7777',
  package: 'web-framework-example',
  reason: 'the content-type parser is replaced',
  expires: '2027-03-01',
};

test('each advisory is read once, by GHSA id, with its package and severity', () => {
  const found = advisories(report);
  assert.deepEqual(
    found.map((a) => [a.id, a.package, a.severity]),
    [
      ['GHSA-2222-3333-4444', 'fast-jwt-example', 'critical'],
      ['GHSA-5555-6666-7777', 'web-framework-example', 'high'],
      ['GHSA-8888-9999-cccc', 'tiny-parser-example', 'moderate'],
    ],
  );
});

test('a high or critical advisory fails unless listed; moderate ones only count', () => {
  const v = evaluate(report, allow([]), TODAY);
  assert.equal(v.failures.length, 2, v.failures.join('\n'));
  assert.match(v.failures[0] ?? '', /critical GHSA-2222-3333-4444 in fast-jwt-example .*npm audit fix/);
  assert.match(v.failures[1] ?? '', /high GHSA-5555-6666-7777 .*web-framework-example@5\.0\.0 \(major\)/);
  assert.deepEqual(v.minor, { moderate: 1 });
});

test('listed advisories pass, by GHSA id, advisory number or URL, for their package only', () => {
  assert.deepEqual(evaluate(report, allow([critical, high]), TODAY).failures, []);
  const byNumber = { ...critical, id: '1100001' };
  assert.deepEqual(evaluate(report, allow([byNumber, high]), TODAY).failures, []);
  const otherPackage = { ...critical, package: 'web-framework-example' };
  assert.equal(evaluate(report, allow([otherPackage, high]), TODAY).failures.length, 1);
});

test('an expired entry fails, so does one more than 90 days ahead or without a reason', () => {
  const expired = evaluate(report, allow([{ ...critical, expires: '2027-01-09' }, high]), TODAY);
  assert.equal(expired.failures.length, 1);
  assert.match(expired.failures[0] ?? '', /expired on 2027-01-09/);
  // On its expiry day it still holds.
  assert.deepEqual(evaluate(report, allow([{ ...critical, expires: TODAY }, high]), TODAY).failures, []);
  const far = evaluate(report, allow([{ ...critical, expires: '2027-04-11' }, high]), TODAY);
  assert.match(far.failures.join('\n'), /more than 90 days ahead/);
  assert.deepEqual(
    evaluate(report, allow([{ ...critical, expires: '2027-04-10' }, high]), TODAY).failures,
    [],
  );
  const noReason = evaluate(report, allow([{ ...critical, reason: ' ' }, high]), TODAY);
  assert.match(noReason.failures.join('\n'), /"reason" is missing/);
  // An expired entry fails even when its advisory is gone.
  const clean = { auditReportVersion: 2, vulnerabilities: {}, metadata: {} };
  const stale = evaluate(clean, allow([{ ...critical, expires: '2026-12-01' }]), TODAY);
  assert.match(stale.failures.join('\n'), /expired/);
  const unused = evaluate(clean, allow([critical]), TODAY);
  assert.deepEqual(unused.failures, []);
  assert.equal(unused.unused.length, 1);
});

test('a registry without the advisory service: said loudly and passed, failed when the audit is required', async () => {
  const refused = join(fixtures, 'npm-audit-endpoint-refused.json');
  const unchecked = await run(process.execPath, ['scripts/audit.mjs', '--report', refused], {
    cwd: repoRoot,
    env: { ...process.env, CCTV_AUDIT: '' },
  });
  assert.match(unchecked.stderr, /dependency audit NOT DONE: .*405 Method Not Allowed/);
  assert.match(unchecked.stderr, /CCTV_AUDIT=required/);
  const failed = await run(process.execPath, ['scripts/audit.mjs', '--report', refused], {
    cwd: repoRoot,
    env: { ...process.env, CCTV_AUDIT: 'required' },
  }).then(
    () => assert.fail('a required audit passed without a report'),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /405 Method Not Allowed/);
  const skipped = await run(process.execPath, ['scripts/audit.mjs', '--report', refused], {
    cwd: repoRoot,
    env: { ...process.env, CCTV_AUDIT: 'skip' },
  });
  assert.match(skipped.stdout, /skipped/);
});

test('the command fails on the recorded report with the repository allowlist', async () => {
  const r = await run(
    process.execPath,
    ['scripts/audit.mjs', '--report', join(fixtures, 'npm-audit-report.json')],
    {
      cwd: repoRoot,
      env: { ...process.env, CCTV_AUDIT: '' },
    },
  ).then(
    () => assert.fail('passed'),
    (err: { code: number; stdout: string; stderr: string }) => err,
  );
  assert.equal(r.code, 1);
  assert.match(r.stdout, /3 advisories \(1 moderate do not fail it\)/);
  assert.match(r.stderr, /FAIL critical GHSA-2222-3333-4444/);
});
