-- CreateTable
CREATE TABLE "NodeConfigVersion" (
    "nodeId" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "cameras" JSONB NOT NULL,
    "secrets" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "userId" TEXT,
    "createdBy" TEXT NOT NULL,
    "note" TEXT NOT NULL,

    CONSTRAINT "NodeConfigVersion_pkey" PRIMARY KEY ("nodeId","version")
);
