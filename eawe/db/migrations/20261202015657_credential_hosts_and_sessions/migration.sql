-- AlterTable
ALTER TABLE "User" ADD COLUMN     "sessionEpoch" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "Credential" ADD COLUMN     "allowedHosts" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "allowedMethods" TEXT[] DEFAULT ARRAY[]::TEXT[];

