-- EAWE: hand-written migration
-- Row-level security: every tenant-owned table lets a row through only when its tenant is the
-- transaction's `eawe.tenant` setting (set by the application per transaction, see
-- eawe/db/tenant_scope.py), or when that setting is '*' (the system scope of cross-tenant jobs).
-- The application connects as a member of `eawe_app`: a role that owns no table and cannot
-- bypass row-level security, so a query that forgot its tenant filter still sees no foreign row.
-- Table owners (who run the migrations) are not subject to the policies.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'eawe_app') THEN
    CREATE ROLE eawe_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO eawe_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO eawe_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO eawe_app;
-- Tables created later by the migrating role (LangGraph's checkpoint and store tables, new models).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO eawe_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO eawe_app;
-- (eawe.db.owner_upgrade revokes writes on "_prisma_migrations": the history is the owner's.)

ALTER TABLE "Tenant" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "Tenant" USING ("id" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "User" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "User" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "ApiKey" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "ApiKey" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "WorkflowDefinition" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "WorkflowDefinition" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "WorkflowDefinitionVersion" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "WorkflowDefinitionVersion" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "WorkflowRun" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "WorkflowRun" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "AgentThread" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "AgentThread" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "Assistant" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "Assistant" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "AssistantVersion" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "AssistantVersion" USING (current_setting('eawe.tenant', true) = '*' OR EXISTS (SELECT 1 FROM "Assistant" a WHERE a."id" = "AssistantVersion"."assistantId"));

ALTER TABLE "Cron" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "Cron" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "RunStreamEvent" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "RunStreamEvent" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "HITLTask" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "HITLTask" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "AuditLog" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "AuditLog" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "Credential" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "Credential" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "Document" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "Document" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "NodeExecution" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "NodeExecution" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "RunTraceContext" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "RunTraceContext" USING (current_setting('eawe.tenant', true) = '*' OR EXISTS (SELECT 1 FROM "WorkflowRun" r WHERE r."id" = "RunTraceContext"."workflowRunId"));

ALTER TABLE "AuditTreeHead" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "AuditTreeHead" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "RunAdmission" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "RunAdmission" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "McpServer" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "McpServer" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');

ALTER TABLE "A2ATask" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "A2ATask" USING ("tenantId" = current_setting('eawe.tenant', true) OR current_setting('eawe.tenant', true) = '*');
