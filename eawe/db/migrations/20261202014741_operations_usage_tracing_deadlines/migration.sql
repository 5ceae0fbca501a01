-- AlterTable
ALTER TABLE "HITLTask" ADD COLUMN     "escalatedAt" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "NodeExecution" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "workflowRunId" TEXT NOT NULL,
    "nodeId" TEXT NOT NULL,
    "nodeType" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "durationMs" INTEGER NOT NULL,
    "tokenUsage" JSONB NOT NULL DEFAULT '{}',
    "inputTokens" INTEGER NOT NULL DEFAULT 0,
    "outputTokens" INTEGER NOT NULL DEFAULT 0,
    "totalTokens" INTEGER NOT NULL DEFAULT 0,
    "startedAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "NodeExecution_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RunTraceContext" (
    "workflowRunId" TEXT NOT NULL,
    "traceparent" TEXT NOT NULL,
    "tracestate" TEXT NOT NULL DEFAULT '',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "RunTraceContext_pkey" PRIMARY KEY ("workflowRunId")
);

-- CreateIndex
CREATE INDEX "NodeExecution_workflowRunId_idx" ON "NodeExecution"("workflowRunId");

-- CreateIndex
CREATE INDEX "NodeExecution_tenantId_createdAt_idx" ON "NodeExecution"("tenantId", "createdAt");

-- CreateIndex
CREATE INDEX "HITLTask_status_dueAt_idx" ON "HITLTask"("status", "dueAt");

