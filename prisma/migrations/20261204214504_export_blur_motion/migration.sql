-- AlterTable
ALTER TABLE "ExportJob" ADD COLUMN     "blurMotion" BOOLEAN NOT NULL DEFAULT false;
