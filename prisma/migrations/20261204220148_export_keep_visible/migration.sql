-- AlterTable
ALTER TABLE "ExportJob" ADD COLUMN     "keepVisible" JSONB;
