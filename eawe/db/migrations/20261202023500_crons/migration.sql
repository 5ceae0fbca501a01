-- CreateTable
CREATE TABLE "Cron" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "assistantId" TEXT NOT NULL,
    "threadId" TEXT,
    "schedule" TEXT NOT NULL,
    "payload" JSONB NOT NULL DEFAULT '{}',
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "nextRunAt" TIMESTAMP(3),
    "endTime" TIMESTAMP(3),
    "createdById" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Cron_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Cron_enabled_nextRunAt_idx" ON "Cron"("enabled", "nextRunAt");

-- CreateIndex
CREATE INDEX "Cron_tenantId_createdAt_idx" ON "Cron"("tenantId", "createdAt");

-- AddForeignKey
ALTER TABLE "Cron" ADD CONSTRAINT "Cron_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Cron" ADD CONSTRAINT "Cron_createdById_fkey" FOREIGN KEY ("createdById") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

