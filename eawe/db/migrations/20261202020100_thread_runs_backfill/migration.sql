-- EAWE: hand-written migration
-- A thread holds many runs. Existing data: every run gets a thread (the AgentThread it was bound
-- to, else a new one whose id is the run's id, which is the thread_id its checkpoints already
-- have); every workflow gets a readable slug (its Agent-Protocol graph id); every published
-- workflow gets its default assistant (assistant id = workflow id, as before). Then the old
-- one-run binding column goes.

-- Workflow slugs: the name in lower-case words joined by '-', made unique within the tenant.
WITH base AS (
    SELECT id, "tenantId",
           COALESCE(NULLIF(trim(both '-' from regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g')), ''), 'workflow') AS slug,
           row_number() OVER (
               PARTITION BY "tenantId",
                   COALESCE(NULLIF(trim(both '-' from regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g')), ''), 'workflow')
               ORDER BY "createdAt", id) AS n
    FROM "WorkflowDefinition"
)
UPDATE "WorkflowDefinition" AS w
SET slug = CASE WHEN base.n = 1 THEN base.slug ELSE base.slug || '-' || w.id END
FROM base WHERE base.id = w.id;

-- Default assistants of published workflows.
INSERT INTO "Assistant" (id, "tenantId", "graphId", "workflowDefinitionId", name, description, metadata, version, "createdAt", "updatedAt")
SELECT w.id, w."tenantId", w.slug, w.id, w.name, w.description, '{"created_by": "system"}'::jsonb, 1, w."createdAt", CURRENT_TIMESTAMP
FROM "WorkflowDefinition" w WHERE w."publishedVersion" IS NOT NULL;
INSERT INTO "AssistantVersion" (id, "assistantId", version, "graphId", name, description, metadata, "createdAt")
SELECT a.id || '-v1', a.id, 1, a."graphId", a.name, a.description, a.metadata, a."createdAt" FROM "Assistant" a;

-- Runs bound to a thread created before them: the thread's checkpoints were the run's.
UPDATE "WorkflowRun" AS r SET "threadId" = t.id FROM "AgentThread" t WHERE t."workflowRunId" = r.id;
DO $$
DECLARE tbl text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['checkpoints', 'checkpoint_blobs', 'checkpoint_writes'] LOOP
        IF to_regclass(quote_ident(tbl)) IS NOT NULL THEN
            EXECUTE format(
                'UPDATE %I AS c SET thread_id = t.id FROM "AgentThread" t WHERE t."workflowRunId" = c.thread_id',
                tbl);
        END IF;
    END LOOP;
END $$;

-- Every other run is its own thread.
INSERT INTO "AgentThread" (id, "tenantId", "createdById", metadata, "createdAt", "updatedAt")
SELECT r.id, r."tenantId", r."startedById", '{}'::jsonb, r."createdAt", CURRENT_TIMESTAMP
FROM "WorkflowRun" r WHERE r."threadId" IS NULL;
UPDATE "WorkflowRun" SET "threadId" = id WHERE "threadId" IS NULL;

-- Graph and assistant of runs and threads.
UPDATE "WorkflowRun" AS r SET "graphId" = w.slug, "assistantId" = w.id
FROM "WorkflowDefinition" w WHERE w.id = r."workflowDefinitionId";
UPDATE "AgentThread" AS t SET "graphId" = r."graphId", "assistantId" = r."assistantId"
FROM "WorkflowRun" r WHERE r."threadId" = t.id;

UPDATE "AgentThread" AS t SET status = CASE r.status
        WHEN 'PENDING' THEN 'busy' WHEN 'RUNNING' THEN 'busy'
        WHEN 'PAUSED_FOR_APPROVAL' THEN 'interrupted'
        WHEN 'PAUSED_WITH_ERROR' THEN 'error' WHEN 'FAILED' THEN 'error' ELSE 'idle' END
FROM "WorkflowRun" r WHERE r."threadId" = t.id;

-- The one-run binding is gone: a thread's runs are WorkflowRun.threadId.
ALTER TABLE "AgentThread" DROP CONSTRAINT "AgentThread_workflowRunId_fkey";
DROP INDEX "AgentThread_workflowRunId_key";
ALTER TABLE "AgentThread" DROP COLUMN "workflowRunId";
