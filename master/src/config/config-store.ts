/**
 * The desired configuration in PostgreSQL (docs/adr/0015): one immutable row per version of a
 * node's camera list. Passwords live apart from the cameras, sealed (secret-box.ts) with the
 * node id and version bound in. Writing version N+1 races nobody silently: two admins saving at
 * once both read N, one insert wins, the other gets `ConfigConflictError` and saves again.
 */
import type { PrismaClient } from '@cctv/db';
import type { CameraSpec } from '@cctv/protocol';
import type { SecretBox } from './secret-box.ts';

/** A camera as stored: its spec without a password (URLs keep user names). */
export interface StoredCamera {
  spec: CameraSpec;
  /** The version in which this camera last changed. */
  changedIn: number;
  /** Days the gateway keeps its recordings (read by the gateway's retention); absent: its own. */
  retentionDays?: number;
}

export interface DesiredConfig {
  nodeId: string;
  version: number;
  cameras: StoredCamera[];
  /** Camera id → password (only cameras that have one). */
  passwords: Map<string, string>;
  createdAt: Date;
  createdBy: string;
  note: string;
}

export interface ConfigAuthor {
  userId: string | null;
  username: string;
}

export class ConfigConflictError extends Error {
  readonly code = 'CONFIG_CONFLICT';
}

interface CamerasJson {
  cameras: StoredCamera[];
}

/** A NodeConfigVersion row as read. */
interface VersionRow {
  nodeId: string;
  version: number;
  cameras: unknown;
  secrets: string | null;
  createdAt: Date;
  createdBy: string;
  note: string;
}

const context = (nodeId: string, version: number) => `node-config:${nodeId}:${version}`;

export class ConfigStore {
  constructor(
    private readonly db: PrismaClient,
    private readonly box: SecretBox,
  ) {}

  /** The newest version of a node's desired configuration; null when the master keeps none. */
  async latest(nodeId: string): Promise<DesiredConfig | null> {
    const row = await this.db.nodeConfigVersion.findFirst({
      where: { nodeId },
      orderBy: { version: 'desc' },
    });
    return row ? this.decode(row) : null;
  }

  async get(nodeId: string, version: number): Promise<DesiredConfig | null> {
    const row = await this.db.nodeConfigVersion.findUnique({
      where: { nodeId_version: { nodeId, version } },
    });
    return row ? this.decode(row) : null;
  }

  /** The newest version of every node that has one. */
  async allLatest(): Promise<DesiredConfig[]> {
    const rows = await this.db.$queryRaw<
      VersionRow[]
    >`SELECT DISTINCT ON ("nodeId") "nodeId", version, cameras, secrets, "createdAt", "createdBy", note
      FROM "NodeConfigVersion" ORDER BY "nodeId", version DESC`;
    return rows.map((r) => this.decode(r));
  }

  /** The newest desired version of one node (cheap: the primary key's index). */
  async latestVersion(nodeId: string): Promise<number | null> {
    const row = await this.db.nodeConfigVersion.findFirst({
      where: { nodeId },
      orderBy: { version: 'desc' },
      select: { version: true },
    });
    return row?.version ?? null;
  }

  async versions(nodeId: string, limit = 100) {
    const rows = await this.db.nodeConfigVersion.findMany({
      where: { nodeId },
      orderBy: { version: 'desc' },
      take: limit,
      select: { version: true, createdAt: true, createdBy: true, note: true, cameras: true },
    });
    return rows.map((r) => ({
      version: r.version,
      createdAt: r.createdAt.toISOString(),
      createdBy: r.createdBy,
      note: r.note,
      cameraIds: (r.cameras as unknown as CamerasJson).cameras.map((c) => c.spec.id),
    }));
  }

  /**
   * Writes the version after `previous` (0 for the first). Throws ConfigConflictError when
   * someone else wrote it first.
   */
  async write(
    nodeId: string,
    previous: number,
    cameras: StoredCamera[],
    passwords: Map<string, string>,
    author: ConfigAuthor,
    note: string,
  ): Promise<DesiredConfig> {
    const version = previous + 1;
    const secrets =
      passwords.size > 0
        ? this.box.seal(JSON.stringify(Object.fromEntries(passwords)), context(nodeId, version))
        : null;
    try {
      const row = await this.db.nodeConfigVersion.create({
        data: {
          nodeId,
          version,
          cameras: { cameras } as unknown as object,
          secrets,
          userId: author.userId,
          createdBy: author.username,
          note: note.slice(0, 300),
        },
      });
      return this.decode(row);
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002')
        throw new ConfigConflictError(
          `node ${nodeId}'s configuration changed meanwhile (version ${version} exists); load it again`,
        );
      throw err;
    }
  }

  /** The newest configuration that holds a camera, and the camera; null when none does. */
  async findCamera(cameraId: string): Promise<{ config: DesiredConfig; cam: StoredCamera } | null> {
    for (const config of await this.allLatest()) {
      const cam = config.cameras.find((c) => c.spec.id === cameraId);
      if (cam) return { config, cam };
    }
    return null;
  }

  /** A saved camera's URLs and password; null when no configuration has it. */
  async savedCamera(cameraId: string): Promise<{ urls: string[]; password: string } | null> {
    const found = await this.findCamera(cameraId);
    if (!found) return null;
    const { spec } = found.cam;
    return {
      urls: [spec.url, ...(spec.substreamUrl ? [spec.substreamUrl] : [])],
      password: found.config.passwords.get(cameraId) ?? '',
    };
  }

  private decode(row: VersionRow): DesiredConfig {
    const passwords = new Map<string, string>(
      row.secrets
        ? Object.entries(
            JSON.parse(this.box.open(row.secrets, context(row.nodeId, row.version))) as Record<
              string,
              string
            >,
          )
        : [],
    );
    return {
      nodeId: row.nodeId,
      version: row.version,
      cameras: (row.cameras as CamerasJson).cameras,
      passwords,
      createdAt: row.createdAt,
      createdBy: row.createdBy,
      note: row.note,
    };
  }
}
