/**
 * Node credentials: one scrypt hash per node in `NodeCredential`. Enrolment makes a new random
 * secret, stores only its hash and hands the secret back once; nothing can show it again.
 * The same enrolment issues the node's storage-gateway upload token (stored as its sha256:
 * 256 random bits need no slow hash, and the gateway checks one on every upload).
 */
import { createHash } from 'node:crypto';
import { Prisma, type PrismaClient } from '@cctv/db';
import { isValidId } from '@cctv/protocol';
import { hashSecret, MACHINE_SECRET_PARAMS, newSecret } from './secret-hash.ts';

export class EnrolmentError extends Error {
  constructor(
    readonly code: 'BAD_NODE_ID' | 'ALREADY_ENROLLED',
    message: string,
  ) {
    super(message);
  }
}

export interface Enrolment {
  nodeId: string;
  /** The MQTT password; shown this once. */
  secret: string;
  /** The storage-gateway upload token (`Authorization: Bearer`); shown this once. */
  uploadToken: string;
  /** True when an existing credential was replaced. */
  rotated: boolean;
}

/** `NodeCredential` rows. */
export class NodeCredentialRepository {
  constructor(private readonly db: PrismaClient) {}

  async passwordHash(nodeId: string): Promise<string | null> {
    const row = await this.db.nodeCredential.findUnique({
      where: { nodeId },
      select: { passwordHash: true },
    });
    return row?.passwordHash ?? null;
  }

  async uploadTokenHash(nodeId: string): Promise<string | null> {
    const row = await this.db.nodeCredential.findUnique({
      where: { nodeId },
      select: { uploadTokenHash: true },
    });
    return row?.uploadTokenHash ?? null;
  }

  /** Inserts a credential; false when the node already has one. */
  async create(nodeId: string, passwordHash: string, uploadTokenHash: string): Promise<boolean> {
    try {
      await this.db.nodeCredential.create({ data: { nodeId, passwordHash, uploadTokenHash } });
      return true;
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') return false;
      throw err;
    }
  }

  /** Replaces the node's credential (or creates it); true when one was replaced. */
  async replace(nodeId: string, passwordHash: string, uploadTokenHash: string, at: Date): Promise<boolean> {
    const row = await this.db.nodeCredential.upsert({
      where: { nodeId },
      create: { nodeId, passwordHash, uploadTokenHash, createdAt: at },
      update: { passwordHash, uploadTokenHash, rotatedAt: at, lastUsedAt: null },
    });
    return row.rotatedAt !== null;
  }

  /** Deletes the node's credential; false when it had none. */
  async delete(nodeId: string): Promise<boolean> {
    const { count } = await this.db.nodeCredential.deleteMany({ where: { nodeId } });
    return count > 0;
  }

  async touch(nodeId: string, at: Date): Promise<void> {
    await this.db.nodeCredential.updateMany({ where: { nodeId }, data: { lastUsedAt: at } });
  }
}

/**
 * Creates the node's credential, or with `rotate` replaces it (creating it when missing).
 * Refuses an invalid node id, and an enrolled node without `rotate`.
 */
export async function enrolNode(
  repo: NodeCredentialRepository,
  nodeId: string,
  opts: { rotate?: boolean; now?: () => Date } = {},
): Promise<Enrolment> {
  if (!isValidId(nodeId))
    throw new EnrolmentError('BAD_NODE_ID', `invalid node id "${nodeId}" (expected [a-z0-9][a-z0-9-]{0,62})`);
  const secret = newSecret();
  const hash = await hashSecret(secret, MACHINE_SECRET_PARAMS);
  const uploadToken = newSecret();
  const tokenHash = hashUploadToken(uploadToken);
  if (opts.rotate) {
    const rotated = await repo.replace(nodeId, hash, tokenHash, opts.now?.() ?? new Date());
    return { nodeId, secret, uploadToken, rotated };
  }
  if (!(await repo.create(nodeId, hash, tokenHash)))
    throw new EnrolmentError('ALREADY_ENROLLED', `node ${nodeId} is already enrolled; rotate to replace`);
  return { nodeId, secret, uploadToken, rotated: false };
}

/** What `NodeCredential.uploadTokenHash` holds for a token; the gateway computes the same. */
export function hashUploadToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The lines to put in the agent's `agent.yaml` (beside `mqtt.url`). */
export function agentYamlSnippet(e: Enrolment): string {
  // base64url needs no escaping; the quotes keep YAML from reading a secret as a number.
  return [
    'mqtt:',
    `  username: ${e.nodeId}`,
    `  password: "${e.secret}"`,
    'gateway:',
    `  token: "${e.uploadToken}"`,
  ].join('\n');
}
