import { unlink } from 'node:fs/promises';
import { segmentKind } from '@cctv/protocol';
import { isErrno } from '../files/durable-fs.ts';
import type { SegmentLocation } from '../files/segment-files.ts';

/** Where the NAS module records that a segment now lives on the NAS (the segment index). */
export interface NasLocationIndex {
  setLocation(cameraId: string, name: string, location: SegmentLocation): Promise<unknown>;
}

/**
 * The rule for letting a buffered copy go once its NAS copy is verified, and the only place it
 * is applied: first the index says `nas` (awaited: if it cannot, the buffered copy stays and the
 * move is retried, nothing is lost), then whoever listens is told, and only then the buffered
 * file is unlinked. A crash in between leaves a row that says `nas` and both copies; reads find
 * either, and the start-up reconciliation removes the buffered one.
 *
 * The unlink is not fsynced: the segment is durable on the NAS and in the index by then, and a
 * directory fsync per move waits behind every upload's own fsyncs on a busy disk (it held the
 * mover to half the ingest rate with 32 uploaders). A power cut may bring the file back, and the
 * reconciliation at start removes it (`bufferReleased`).
 */
export async function releaseBufferedCopy(
  bufferPath: string,
  segment: { camera: string; name: string },
  index: NasLocationIndex | undefined,
  moved: () => Promise<void> | void,
  unindexed?: () => Promise<void>,
): Promise<void> {
  const indexed = await index?.setLocation(segment.camera, segment.name, 'nas');
  if (indexed === false && unindexed && segmentKind(segment.name) === 'media') {
    // A media segment always has its row before it is queued: none now means retention
    // deleted it (from the NAS copy another gateway made) while this copy waited here. The
    // copy just made would be a NAS file without a row; it goes first, then this one.
    await unindexed();
  } else await moved();
  try {
    await unlink(bufferPath);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
}
