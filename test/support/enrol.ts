/** Node credentials for tests that connect agents or raw MQTT clients to a real master. */
import { createPrismaClient } from '@cctv/db';
import {
  type Enrolment,
  enrolNode,
  NodeCredentialRepository,
} from '../../master/src/auth/node-credentials.ts';

/** Enrols (or re-enrols) `nodeId` in the master's database; returns its MQTT password. */
export async function enrolTestNode(databaseUrl: string, nodeId: string): Promise<string> {
  return (await enrolTestNodeFully(databaseUrl, nodeId)).secret;
}

/** Enrols (or re-enrols) `nodeId`: its MQTT password and its storage-gateway upload token. */
export async function enrolTestNodeFully(databaseUrl: string, nodeId: string): Promise<Enrolment> {
  const prisma = createPrismaClient(databaseUrl, 1);
  try {
    return await enrolNode(new NodeCredentialRepository(prisma), nodeId, { rotate: true });
  } finally {
    await prisma.$disconnect();
  }
}

/**
 * Registers cameras to a node as the master does on its hello (the first node to register a
 * camera owns it; an owned camera is left alone), for tests that upload without a master.
 */
export async function registerTestCameras(
  databaseUrl: string,
  nodeId: string,
  cameraIds: string[],
): Promise<void> {
  const prisma = createPrismaClient(databaseUrl, 1);
  try {
    await prisma.node.upsert({ where: { id: nodeId }, create: { id: nodeId }, update: {} });
    await prisma.camera.createMany({
      data: cameraIds.map((id) => ({ id, nodeId, name: id })),
      skipDuplicates: true,
    });
  } finally {
    await prisma.$disconnect();
  }
}
