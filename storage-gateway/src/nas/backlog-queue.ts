/** A segment waiting in the buffer for the NAS. */
export interface BacklogItem {
  camera: string;
  name: string;
  /** The acknowledged sha256; the NAS copy must read back with it. */
  sha256: string;
  bytes: number;
  /** Recording time (media start; init files sort by arrival), ms since the epoch. */
  timeMs: number;
  /** When the gateway acknowledged it, ms since the epoch (for the buffer's oldest age). */
  arrivedMs: number;
}

/**
 * The NAS backlog in recording-time order (a min-heap), so that after an outage the oldest
 * footage reaches the NAS first whichever agent sent it last. Each segment is queued once.
 */
export class BacklogQueue {
  private readonly heap: BacklogItem[] = [];
  private readonly keys = new Set<string>();
  private totalBytes = 0;

  get size(): number {
    return this.heap.length;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  has(camera: string, name: string): boolean {
    return this.keys.has(`${camera}/${name}`);
  }

  /** False when the segment is already queued. */
  push(item: BacklogItem): boolean {
    const key = `${item.camera}/${item.name}`;
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    this.totalBytes += item.bytes;
    this.heap.push(item);
    this.up(this.heap.length - 1);
    return true;
  }

  peek(): BacklogItem | undefined {
    return this.heap[0];
  }

  /** Removes the head (after it has been moved or dropped). */
  shift(): BacklogItem | undefined {
    const top = this.heap[0];
    if (!top) return undefined;
    const last = this.heap.pop() as BacklogItem;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.down(0);
    }
    this.keys.delete(`${top.camera}/${top.name}`);
    this.totalBytes -= top.bytes;
    return top;
  }

  /** The earliest arrival among queued items (O(n); called by the metrics scrape only). */
  oldestArrivalMs(): number | null {
    let oldest: number | null = null;
    for (const item of this.heap) if (oldest === null || item.arrivedMs < oldest) oldest = item.arrivedMs;
    return oldest;
  }

  private less(a: BacklogItem, b: BacklogItem): boolean {
    return a.timeMs !== b.timeMs
      ? a.timeMs < b.timeMs
      : a.arrivedMs !== b.arrivedMs
        ? a.arrivedMs < b.arrivedMs
        : a.name < b.name;
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i] as BacklogItem, h[parent] as BacklogItem)) break;
      [h[i], h[parent]] = [h[parent] as BacklogItem, h[i] as BacklogItem];
      i = parent;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l] as BacklogItem, h[m] as BacklogItem)) m = l;
      if (r < h.length && this.less(h[r] as BacklogItem, h[m] as BacklogItem)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as BacklogItem, h[i] as BacklogItem];
      i = m;
    }
  }
}
