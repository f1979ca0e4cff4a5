-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "NodeState" AS ENUM ('online', 'offline');

-- CreateEnum
CREATE TYPE "SegmentLocation" AS ENUM ('buffer', 'nas');

-- CreateTable
CREATE TABLE "Node" (
    "id" TEXT NOT NULL,
    "state" "NodeState" NOT NULL DEFAULT 'offline',
    "agentVersion" TEXT,
    "protocolVersion" TEXT,
    "hostname" TEXT,
    "platform" TEXT,
    "arch" TEXT,
    "capabilities" JSONB,
    "firstSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMP(3),
    "lastHeartbeatAt" TIMESTAMP(3),
    "lastHeartbeat" JSONB,
    "stateChangedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Node_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Camera" (
    "id" TEXT NOT NULL,
    "nodeId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "codec" TEXT,
    "width" INTEGER,
    "height" INTEGER,
    "fps" DOUBLE PRECISION,
    "simulated" BOOLEAN NOT NULL DEFAULT false,
    "state" TEXT NOT NULL DEFAULT 'unknown',
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Camera_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Segment" (
    "id" BIGSERIAL NOT NULL,
    "cameraId" TEXT NOT NULL,
    "nodeId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "initName" TEXT NOT NULL,
    "startAt" TIMESTAMP(3) NOT NULL,
    "durationMs" INTEGER NOT NULL,
    "bytes" INTEGER NOT NULL,
    "codec" TEXT NOT NULL,
    "sha256" CHAR(64) NOT NULL,
    "location" "SegmentLocation" NOT NULL DEFAULT 'buffer',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Segment_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Camera_nodeId_idx" ON "Camera"("nodeId");

-- CreateIndex
CREATE INDEX "Segment_cameraId_startAt_idx" ON "Segment"("cameraId", "startAt");

-- CreateIndex
CREATE UNIQUE INDEX "Segment_cameraId_name_key" ON "Segment"("cameraId", "name");

-- AddForeignKey
ALTER TABLE "Camera" ADD CONSTRAINT "Camera_nodeId_fkey" FOREIGN KEY ("nodeId") REFERENCES "Node"("id") ON DELETE CASCADE ON UPDATE CASCADE;
