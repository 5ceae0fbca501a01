-- AlterTable
CREATE SEQUENCE auditlog_seq_seq;
ALTER TABLE "AuditLog" ADD COLUMN     "leafIndex" BIGINT,
ADD COLUMN     "xactId" BIGINT NOT NULL DEFAULT ((pg_current_xact_id())::text)::bigint,
ALTER COLUMN "seq" SET DEFAULT nextval('auditlog_seq_seq'),
ALTER COLUMN "prevHash" DROP NOT NULL,
ALTER COLUMN "hash" DROP NOT NULL;
ALTER SEQUENCE auditlog_seq_seq OWNED BY "AuditLog"."seq";

-- CreateTable
CREATE TABLE "AuditTreeHead" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "treeSize" BIGINT NOT NULL,
    "rootHash" TEXT NOT NULL,
    "timestamp" TIMESTAMP(3) NOT NULL,
    "keyId" TEXT NOT NULL,
    "signature" TEXT NOT NULL,
    "frontier" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AuditTreeHead_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "AuditTreeHead_tenantId_treeSize_key" ON "AuditTreeHead"("tenantId", "treeSize");

-- CreateIndex
CREATE INDEX "AuditLog_leafIndex_xactId_seq_idx" ON "AuditLog"("leafIndex", "xactId", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "AuditLog_tenantId_leafIndex_key" ON "AuditLog"("tenantId", "leafIndex");

-- AddForeignKey
ALTER TABLE "AuditTreeHead" ADD CONSTRAINT "AuditTreeHead_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

