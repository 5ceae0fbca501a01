-- EAWE: hand-written migration
-- (A data migration; Prisma generates only schema changes.)
-- Before "AgentThread" existed, a thread created ahead of its run was recorded only in the
-- audit log: a THREAD_CREATED row (details.thread_id, details.metadata) and, once a run started
-- on it, a THREAD_BOUND row carrying the run. Copy those threads into the table so they stay
-- reachable; the audit rows themselves are untouched (the log is append-only).

-- BackfillAgentThread
WITH "bound" AS (
    SELECT DISTINCT ON (a."tenantId", a."details"->>'thread_id')
        a."tenantId", a."details"->>'thread_id' AS "threadId", a."workflowRunId", a."timestamp"
    FROM "AuditLog" a
    JOIN "WorkflowRun" r ON r."id" = a."workflowRunId" AND r."tenantId" = a."tenantId"
    WHERE a."action" = 'THREAD_BOUND' AND a."details"->>'thread_id' IS NOT NULL
    ORDER BY a."tenantId", a."details"->>'thread_id', a."seq"
)
INSERT INTO "AgentThread" ("id", "tenantId", "createdById", "metadata", "workflowRunId", "createdAt", "updatedAt")
SELECT
    c."details"->>'thread_id',
    c."tenantId",
    c."actorId",
    CASE WHEN jsonb_typeof(c."details"->'metadata') = 'object' THEN c."details"->'metadata' ELSE '{}'::jsonb END,
    b."workflowRunId",
    c."timestamp",
    COALESCE(b."timestamp", c."timestamp")
FROM "AuditLog" c
LEFT JOIN "bound" b ON b."tenantId" = c."tenantId" AND b."threadId" = c."details"->>'thread_id'
WHERE c."action" = 'THREAD_CREATED' AND c."details"->>'thread_id' IS NOT NULL
ORDER BY c."tenantId", c."seq"
ON CONFLICT DO NOTHING;
