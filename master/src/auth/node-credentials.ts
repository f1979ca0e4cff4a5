/**
 * Node credentials: one scrypt hash per node in `NodeCredential`. Enrolment makes a new random
 * secret, stores only its hash and hands the secret back once; nothing can show it again.
 */
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

  /** Inserts a credential; false when the node already has one. */
  async create(nodeId: string, passwordHash: string): Promise<boolean> {
    try {
      await this.db.nodeCredential.create({ data: { nodeId, passwordHash } });
      return true;
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') return false;
      throw err;
    }
  }

  /** Replaces the node's credential (or creates it); true when one was replaced. */
  async replace(nodeId: string, passwordHash: string, at: Date): Promise<boolean> {
    const row = await this.db.nodeCredential.upsert({
      where: { nodeId },
      create: { nodeId, passwordHash, createdAt: at },
      update: { passwordHash, rotatedAt: at, lastUsedAt: null },
    });
    return row.rotatedAt !== null;
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
  if (opts.rotate) {
    const rotated = await repo.replace(nodeId, hash, opts.now?.() ?? new Date());
    return { nodeId, secret, rotated };
  }
  if (!(await repo.create(nodeId, hash)))
    throw new EnrolmentError('ALREADY_ENROLLED', `node ${nodeId} is already enrolled; rotate to replace`);
  return { nodeId, secret, rotated: false };
}

/** The lines to put in the agent's `agent.yaml` (beside `mqtt.url`). */
export function agentYamlSnippet(e: Enrolment): string {
  // base64url needs no escaping; the quotes keep YAML from reading a secret as a number.
  return ['mqtt:', `  username: ${e.nodeId}`, `  password: "${e.secret}"`].join('\n');
}
