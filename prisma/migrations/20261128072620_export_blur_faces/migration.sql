-- AlterTable
ALTER TABLE "ExportJob" ADD COLUMN     "blurFaces" BOOLEAN NOT NULL DEFAULT false;
