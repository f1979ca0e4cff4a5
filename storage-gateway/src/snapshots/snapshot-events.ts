/**
 * The event a snapshot belongs to, as the master stored it: its camera and start. Snapshot reads
 * are granted per camera and range of event starts; an event's camera and start never change
 * once stored, so what was read once stays true.
 */
import type { PrismaClient } from '@cctv/db';

export interface SnapshotEvent {
  cameraId: string;
  startedAt: Date;
}

export class SnapshotEvents {
  private readonly known = new Map<string, SnapshotEvent>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly max = 50_000,
  ) {}

  async find(eventId: string): Promise<SnapshotEvent | null> {
    const hit = this.known.get(eventId);
    if (hit) return hit;
    const row = await this.prisma.event.findUnique({
      where: { id: eventId },
      select: { cameraId: true, startedAt: true },
    });
    if (!row) return null;
    if (this.known.size >= this.max) this.known.clear();
    this.known.set(eventId, row);
    return row;
  }
}
