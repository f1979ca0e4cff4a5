-- CreateTable
CREATE TABLE "Event" (
    "id" UUID NOT NULL,
    "nodeId" TEXT NOT NULL,
    "cameraId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "startedAt" TIMESTAMP(3) NOT NULL,
    "endedAt" TIMESTAMP(3),
    "lastAt" TIMESTAMP(3) NOT NULL,
    "score" DOUBLE PRECISION NOT NULL,
    "bestAt" TIMESTAMP(3) NOT NULL,
    "boxes" JSONB NOT NULL,
    "zones" TEXT[],
    "frames" INTEGER NOT NULL,
    "snapshot" JSONB,
    "lastSeq" INTEGER NOT NULL,
    "receivedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Event_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "NodeCredential" (
    "nodeId" TEXT NOT NULL,
    "passwordHash" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "rotatedAt" TIMESTAMP(3),
    "lastUsedAt" TIMESTAMP(3),

    CONSTRAINT "NodeCredential_pkey" PRIMARY KEY ("nodeId")
);

-- CreateIndex
CREATE INDEX "Event_cameraId_startedAt_id_idx" ON "Event"("cameraId", "startedAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "Event_type_startedAt_id_idx" ON "Event"("type", "startedAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "Event_startedAt_id_idx" ON "Event"("startedAt" DESC, "id" DESC);
