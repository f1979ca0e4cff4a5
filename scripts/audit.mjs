// The dependency gate of `npm test`: `npm audit --omit=dev --json`, and a high or critical
// advisory against a production dependency fails it unless audit-allowlist.json lists it with
// a reason and an expiry date at most 90 days ahead; an expired entry fails too.
// Usage: node scripts/audit.mjs [--report recorded-audit.json]
// CCTV_AUDIT=skip skips it. A registry without the advisory service (a mirror that refuses
// npm's audit endpoint) leaves the dependencies unchecked: that is said loudly and passes,
// unless CCTV_AUDIT=required, where it fails (CI with the public registry should set it).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = new URL('..', import.meta.url).pathname;
export const ALLOWLIST_FILE = 'audit-allowlist.json';
export const MAX_ALLOW_DAYS = 90;
const FAILING = new Set(['high', 'critical']);
const DAY_MS = 86_400_000;

/** The advisories of an npm audit report (v2, npm 7+), once each: `via` objects name them. */
export function advisories(report) {
  if (
    !report ||
    typeof report !== 'object' ||
    typeof report.vulnerabilities !== 'object' ||
    !report.vulnerabilities
  )
    throw new Error(
      `npm audit gave no report${report?.message ? `: ${report.message}` : report?.error?.summary ? `: ${report.error.summary}` : ''}`,
    );
  const found = new Map();
  for (const vuln of Object.values(report.vulnerabilities))
    for (const via of vuln.via ?? []) {
      if (typeof via !== 'object' || via === null) continue; // the name of another vulnerable package
      const ghsa = /GHSA(-[23456789cfghjmpqrvwx]{4}){3}/.exec(via.url ?? '')?.[0];
      const id = ghsa ?? String(via.source);
      const key = `${id} ${via.name}`;
      if (!found.has(key))
        found.set(key, {
          id,
          source: via.source,
          package: via.name,
          severity: via.severity,
          title: via.title ?? '',
          url: via.url ?? '',
          range: via.range ?? '',
          fixAvailable: vuln.name === via.name ? (vuln.fixAvailable ?? false) : undefined,
        });
    }
  return [...found.values()];
}

/** Problems with the allowlist itself: missing fields, bad dates, expired, too far ahead. */
function entryProblems(entry, index, today) {
  const where = `${ALLOWLIST_FILE} entry ${index + 1}${entry?.id ? ` (${entry.id})` : ''}`;
  const problems = [];
  for (const key of ['id', 'package', 'reason', 'expires'])
    if (typeof entry?.[key] !== 'string' || entry[key].trim() === '')
      problems.push(`${where}: "${key}" is missing`);
  if (problems.length > 0) return problems;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(entry.expires) || Number.isNaN(Date.parse(`${entry.expires}T00:00:00Z`)))
    return [`${where}: "expires" must be a date YYYY-MM-DD, got "${entry.expires}"`];
  const expires = Date.parse(`${entry.expires}T00:00:00Z`);
  const day = Date.parse(`${today}T00:00:00Z`);
  if (expires < day)
    problems.push(`${where}: expired on ${entry.expires}; fix the dependency or renew it with a reason`);
  else if (expires - day > MAX_ALLOW_DAYS * DAY_MS)
    problems.push(`${where}: expires ${entry.expires}, more than ${MAX_ALLOW_DAYS} days ahead`);
  return problems;
}

function matches(entry, advisory) {
  if (entry.package !== advisory.package) return false;
  const id = entry.id.trim();
  return id === advisory.id || id === String(advisory.source) || (advisory.url !== '' && id === advisory.url);
}

/**
 * The verdict over one report: `failures` (each a line; any fails the gate), `allowed` and
 * `unused` allowlist entries, and the counts of what does not fail it.
 * `today` is a UTC date `YYYY-MM-DD`.
 */
export function evaluate(report, allowlist, today) {
  const entries = Array.isArray(allowlist?.advisories) ? allowlist.advisories : null;
  const failures = [];
  if (entries === null) failures.push(`${ALLOWLIST_FILE} must hold {"advisories": [...]}`);
  const list = entries ?? [];
  list.forEach((entry, i) => {
    failures.push(...entryProblems(entry, i, today));
  });
  const found = advisories(report);
  const allowed = [];
  const used = new Set();
  const minor = {};
  for (const a of found) {
    if (!FAILING.has(a.severity)) {
      minor[a.severity] = (minor[a.severity] ?? 0) + 1;
      continue;
    }
    const entry = list.find((e) => e && typeof e.id === 'string' && matches(e, a));
    if (entry) {
      used.add(entry);
      allowed.push({ advisory: a, entry });
      continue;
    }
    const fix =
      a.fixAvailable === true
        ? 'fix: npm audit fix'
        : a.fixAvailable && typeof a.fixAvailable === 'object'
          ? `fix: ${a.fixAvailable.name}@${a.fixAvailable.version}${a.fixAvailable.isSemVerMajor ? ' (major)' : ''}`
          : 'no fix yet';
    failures.push(`${a.severity} ${a.id} in ${a.package} ${a.range}: ${a.title} ${a.url} (${fix})`);
  }
  const unused = list.filter((e) => e && typeof e.id === 'string' && !used.has(e));
  return { failures, allowed, unused, minor, total: found.length };
}

class AuditUnavailable extends Error {}

function runAudit() {
  const r = spawnSync('npm', ['audit', '--omit=dev', '--json'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 180_000,
  });
  if (r.error) throw new Error(`npm audit did not run: ${r.error.message}`);
  let report;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(
      `npm audit printed no JSON (exit ${r.status}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`,
    );
  }
  return report;
}

/** No report but npm's own error: the registry did not answer the audit request. */
function checkAnswered(report) {
  if (report && typeof report === 'object' && !report.vulnerabilities && (report.error || report.statusCode))
    throw new AuditUnavailable(
      report.message || report.error?.summary || `the registry answered ${report.statusCode ?? 'an error'}`,
    );
  return report;
}

function main() {
  if (process.env.CCTV_AUDIT === 'skip') {
    console.log('dependency audit skipped (CCTV_AUDIT=skip)');
    return 0;
  }
  const at = process.argv.indexOf('--report');
  const allowlist = JSON.parse(readFileSync(join(root, ALLOWLIST_FILE), 'utf8'));
  let verdict;
  try {
    const report = checkAnswered(
      at > 0 ? JSON.parse(readFileSync(process.argv[at + 1], 'utf8')) : runAudit(),
    );
    verdict = evaluate(report, allowlist, new Date().toISOString().slice(0, 10));
  } catch (err) {
    if (err instanceof AuditUnavailable && process.env.CCTV_AUDIT !== 'required') {
      console.warn(
        `dependency audit NOT DONE: the registry has no advisory service (${err.message.split('\n')[0].slice(0, 200)}).\n` +
          'Production dependencies are unchecked on this machine; CCTV_AUDIT=required makes this fail.',
      );
      return 0;
    }
    console.error(
      `dependency audit failed: ${err.message}\n` +
        "It needs the npm registry's advisory service (npm audit). On a machine without it, CCTV_AUDIT=skip skips the audit.",
    );
    return 1;
  }
  const minor = Object.entries(verdict.minor)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  console.log(
    `dependency audit (production dependencies): ${verdict.total} advisories${minor ? ` (${minor} do not fail it)` : ''}`,
  );
  for (const { advisory, entry } of verdict.allowed)
    console.log(
      `  allowed until ${entry.expires}: ${advisory.severity} ${advisory.id} in ${advisory.package}: ${entry.reason}`,
    );
  for (const entry of verdict.unused)
    console.log(`  ${ALLOWLIST_FILE}: ${entry.id} (${entry.package}) no longer reported; remove it`);
  for (const line of verdict.failures) console.error(`  FAIL ${line}`);
  return verdict.failures.length > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = main();
