/**
 * Reads ffmpeg's `-progress` output (key=value lines, a block ending in `progress=continue`
 * every `-stats_period`) and says, at the end of each block, whether the output moved on.
 * ffmpeg keeps printing blocks while its input is silent, so the block alone proves nothing.
 */
export class ProgressReader {
  private frame = -1;
  private outTimeUs = -1;
  private blockFrame = -1;
  private blockOutTimeUs = -1;

  /** The furthest output time ffmpeg reported, in seconds (0 before any). */
  get outTimeS(): number {
    return Math.max(0, this.outTimeUs) / 1e6;
  }

  reset(): void {
    this.frame = -1;
    this.outTimeUs = -1;
    this.blockFrame = -1;
    this.blockOutTimeUs = -1;
  }

  /** Feeds one line; true when it closed a block in which frames or output time advanced. */
  line(line: string): boolean {
    const eq = line.indexOf('=');
    if (eq < 0) return false;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === 'frame') this.blockFrame = Number(value);
    else if (key === 'out_time_us') this.blockOutTimeUs = Number(value);
    else if (key === 'progress') {
      const advanced =
        (Number.isFinite(this.blockFrame) && this.blockFrame > this.frame) ||
        (Number.isFinite(this.blockOutTimeUs) && this.blockOutTimeUs > this.outTimeUs);
      if (Number.isFinite(this.blockFrame)) this.frame = Math.max(this.frame, this.blockFrame);
      if (Number.isFinite(this.blockOutTimeUs))
        this.outTimeUs = Math.max(this.outTimeUs, this.blockOutTimeUs);
      return advanced;
    }
    return false;
  }
}
