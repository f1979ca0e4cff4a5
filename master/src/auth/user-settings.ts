/** A user's own dashboard settings, one JSON value per key (`UserSetting`). */
import type { Prisma, PrismaClient } from '@cctv/db';

export class UserSettings {
  constructor(private readonly db: PrismaClient) {}

  async get(userId: string, key: string): Promise<unknown | null> {
    const row = await this.db.userSetting.findUnique({ where: { userId_key: { userId, key } } });
    return row ? row.value : null;
  }

  async put(userId: string, key: string, value: unknown): Promise<void> {
    const json = value as Prisma.InputJsonValue;
    await this.db.userSetting.upsert({
      where: { userId_key: { userId, key } },
      create: { userId, key, value: json },
      update: { value: json },
    });
  }
}
