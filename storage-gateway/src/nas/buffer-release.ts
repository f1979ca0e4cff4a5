import { unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir, isErrno } from '../files/durable-fs.ts';
import type { SegmentLocation } from '../files/segment-files.ts';

/** Where the NAS module records that a segment now lives on the NAS (the segment index). */
export interface NasLocationIndex {
  setLocation(cameraId: string, name: string, location: SegmentLocation): Promise<unknown>;
}

/**
 * The rule for letting a buffered copy go once its NAS copy is verified, and the only place it
 * is applied: first the index says `nas` (awaited: if it cannot, the buffered copy stays and the
 * move is retried, nothing is lost), then whoever listens is told, and only then the buffered
 * file is unlinked and its directory fsynced. A crash in between leaves a row that says `nas`
 * and both copies; reads find either, and the next move of it finds the NAS copy.
 */
export async function releaseBufferedCopy(
  bufferPath: string,
  segment: { camera: string; name: string },
  index: NasLocationIndex | undefined,
  moved: () => Promise<void> | void,
): Promise<void> {
  await index?.setLocation(segment.camera, segment.name, 'nas');
  await moved();
  try {
    await unlink(bufferPath);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  await fsyncDir(dirname(bufferPath));
}
