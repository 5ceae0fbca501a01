-- CreateTable
CREATE TABLE "RunAdmission" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "admittedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "RunAdmission_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "RunAdmission_tenantId_admittedAt_idx" ON "RunAdmission"("tenantId", "admittedAt");

