-- CreateTable
CREATE TABLE "NodeStateChange" (
    "id" BIGSERIAL NOT NULL,
    "nodeId" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "NodeStateChange_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "NodeStateChange_nodeId_at_idx" ON "NodeStateChange"("nodeId", "at" DESC);
