-- EAWE: hand-written migration
-- The run's event outbox counter: the next RunStreamEvent seq is taken from it under the run's
-- row lock, so every writer (the executing worker, a decision, a cancel) numbers its events in
-- commit order. Existing runs continue after the events they already stored.
ALTER TABLE "WorkflowRun" ADD COLUMN "eventSeq" INTEGER NOT NULL DEFAULT 0;

UPDATE "WorkflowRun" r SET "eventSeq" = m.seq
FROM (SELECT "runId", max(seq) AS seq FROM "RunStreamEvent" GROUP BY "runId") m
WHERE m."runId" = r.id;
