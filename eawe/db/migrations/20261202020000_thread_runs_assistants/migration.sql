-- DropForeignKey
ALTER TABLE "WorkflowRun" DROP CONSTRAINT "WorkflowRun_workflowDefinitionId_fkey";

-- AlterTable
ALTER TABLE "WorkflowDefinition" ADD COLUMN     "slug" TEXT;

-- AlterTable
ALTER TABLE "WorkflowRun" ADD COLUMN     "assistantId" TEXT,
ADD COLUMN     "graphId" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "kwargs" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "multitaskStrategy" TEXT NOT NULL DEFAULT 'reject',
ADD COLUMN     "threadId" TEXT,
ALTER COLUMN "workflowDefinitionId" DROP NOT NULL;

-- AlterTable
ALTER TABLE "AgentThread" ADD COLUMN     "assistantId" TEXT,
ADD COLUMN     "graphId" TEXT,
ADD COLUMN     "status" TEXT NOT NULL DEFAULT 'idle';

-- CreateTable
CREATE TABLE "Assistant" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "graphId" TEXT NOT NULL,
    "workflowDefinitionId" TEXT,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "config" JSONB NOT NULL DEFAULT '{}',
    "context" JSONB NOT NULL DEFAULT '{}',
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "version" INTEGER NOT NULL DEFAULT 1,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Assistant_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AssistantVersion" (
    "id" TEXT NOT NULL,
    "assistantId" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "graphId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "config" JSONB NOT NULL DEFAULT '{}',
    "context" JSONB NOT NULL DEFAULT '{}',
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AssistantVersion_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RunStreamEvent" (
    "runId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "tenantId" TEXT NOT NULL,
    "event" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "RunStreamEvent_pkey" PRIMARY KEY ("runId","seq")
);

-- CreateIndex
CREATE INDEX "Assistant_tenantId_graphId_idx" ON "Assistant"("tenantId", "graphId");

-- CreateIndex
CREATE UNIQUE INDEX "AssistantVersion_assistantId_version_key" ON "AssistantVersion"("assistantId", "version");

-- CreateIndex
CREATE UNIQUE INDEX "WorkflowDefinition_tenantId_slug_key" ON "WorkflowDefinition"("tenantId", "slug");

-- CreateIndex
CREATE INDEX "WorkflowRun_threadId_createdAt_idx" ON "WorkflowRun"("threadId", "createdAt");

-- AddForeignKey
ALTER TABLE "WorkflowRun" ADD CONSTRAINT "WorkflowRun_workflowDefinitionId_fkey" FOREIGN KEY ("workflowDefinitionId") REFERENCES "WorkflowDefinition"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WorkflowRun" ADD CONSTRAINT "WorkflowRun_threadId_fkey" FOREIGN KEY ("threadId") REFERENCES "AgentThread"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Assistant" ADD CONSTRAINT "Assistant_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Assistant" ADD CONSTRAINT "Assistant_workflowDefinitionId_fkey" FOREIGN KEY ("workflowDefinitionId") REFERENCES "WorkflowDefinition"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AssistantVersion" ADD CONSTRAINT "AssistantVersion_assistantId_fkey" FOREIGN KEY ("assistantId") REFERENCES "Assistant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RunStreamEvent" ADD CONSTRAINT "RunStreamEvent_runId_fkey" FOREIGN KEY ("runId") REFERENCES "WorkflowRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RunStreamEvent" ADD CONSTRAINT "RunStreamEvent_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

