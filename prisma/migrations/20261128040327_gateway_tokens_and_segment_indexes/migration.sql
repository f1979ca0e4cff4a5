-- AlterEnum
ALTER TYPE "SegmentLocation" ADD VALUE 'missing';

-- AlterTable
ALTER TABLE "NodeCredential" ADD COLUMN     "uploadTokenHash" CHAR(64);

-- CreateIndex
CREATE INDEX "Segment_location_startAt_idx" ON "Segment"("location", "startAt");

-- CreateIndex
CREATE INDEX "Segment_cameraId_initName_idx" ON "Segment"("cameraId", "initName");
