import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * True when `dir` is itself a mount point. Reads /proc/self/mountinfo (which also sees bind
 * mounts of the same filesystem); where that is not available, a device number differing from
 * the parent directory's.
 */
export async function isMountPoint(dir: string): Promise<boolean> {
  const path = await realpath(dir);
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => null);
  if (info !== null) {
    for (const line of info.split('\n')) {
      // fields: id parent major:minor root mount-point options ...; spaces are escaped as \040
      const mountPoint = line.split(' ')[4];
      if (mountPoint && unescapeMountPath(mountPoint) === path) return true;
    }
    return false;
  }
  if (path === '/') return true;
  const [self, parent] = await Promise.all([stat(path), stat(dirname(path))]);
  return self.dev !== parent.dev;
}

function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}
