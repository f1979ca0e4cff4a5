/**
 * Gives the local agent working credentials: keeps the MQTT password and the gateway upload token
 * in its config when both still match the node's credential in the master's database, else enrols
 * the node again (rotating) and writes the new pair into the config, leaving the rest as it was.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { createPrismaClient } from '@cctv/db';
import { parseDocument } from 'yaml';
import {
  enrolNode,
  hashUploadToken,
  NodeCredentialRepository,
} from '../../master/src/auth/node-credentials.ts';
import { verifySecret } from '../../master/src/auth/secret-hash.ts';

/** Returns what happened, for the start log. */
export async function ensureAgentCredentials(
  configPath: string,
  databaseUrl: string,
): Promise<'kept' | 'enrolled'> {
  const doc = parseDocument(await readFile(configPath, 'utf8'));
  const nodeId = doc.get('nodeId');
  if (typeof nodeId !== 'string') throw new Error(`${configPath}: nodeId is missing`);
  const prisma = createPrismaClient(databaseUrl, 1);
  try {
    const repo = new NodeCredentialRepository(prisma);
    const password = doc.getIn(['mqtt', 'password']);
    const token = doc.getIn(['gateway', 'token']);
    const hash = await repo.passwordHash(nodeId);
    const tokenHash = await repo.uploadTokenHash(nodeId);
    if (
      doc.getIn(['mqtt', 'username']) === nodeId &&
      typeof password === 'string' &&
      hash &&
      (await verifySecret(password, hash)) &&
      typeof token === 'string' &&
      tokenHash === hashUploadToken(token)
    )
      return 'kept';
    const { secret, uploadToken } = await enrolNode(repo, nodeId, { rotate: true });
    doc.setIn(['mqtt', 'username'], nodeId);
    doc.setIn(['mqtt', 'password'], secret);
    doc.setIn(['gateway', 'token'], uploadToken);
    await writeFile(configPath, doc.toString(), { mode: 0o600 });
    await chmod(configPath, 0o600);
    return 'enrolled';
  } finally {
    await prisma.$disconnect();
  }
}
