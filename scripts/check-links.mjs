// Checks every relative link of every Markdown file the repository tracks: the file or folder it
// names must exist (anchors and queries are not checked; web links and mail are left alone).
// Links inside fenced code blocks and inline code are not links. Exits 1 listing what is broken.
// Usage: node scripts/check-links.mjs [root]   (default: the repository; a folder outside git is walked)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? new URL('..', import.meta.url).pathname);
const SKIP = new Set(['node_modules', '.git', '.next', 'generated', 'data']);

function markdownFiles() {
  const git = spawnSync('git', ['ls-files', '-z', '--', '*.md'], { cwd: root, encoding: 'utf8' });
  if (git.status === 0 && git.stdout.length > 0) return git.stdout.split('\0').filter(Boolean);
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      if (SKIP.has(name)) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.md')) out.push(relative(root, p));
    }
  };
  walk(root);
  return out;
}

/** Link targets of a Markdown text: `[text](target)` and `![alt](target)`, outside code. */
export function linkTargets(text) {
  const targets = [];
  let fenced = false;
  for (const [n, line] of text.split('\n').entries()) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (fenced) continue;
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      targets.push({ line: n + 1, target: m[1] });
  }
  return targets;
}

const broken = [];
let checked = 0;
for (const file of markdownFiles()) {
  const text = readFileSync(join(root, file), 'utf8');
  for (const { line, target } of linkTargets(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
    const path = decodeURIComponent(target.replace(/[#?].*$/, ''));
    if (path === '') continue;
    const full = path.startsWith('/') ? join(root, path) : join(root, dirname(file), path);
    checked++;
    if (!existsSync(full)) broken.push(`${file}:${line}: ${target}`);
  }
}
if (broken.length > 0) {
  console.error(`broken relative links (${broken.length} of ${checked}):\n${broken.join('\n')}`);
  process.exit(1);
}
console.log(`links: ${checked} relative links in Markdown, none broken`);
