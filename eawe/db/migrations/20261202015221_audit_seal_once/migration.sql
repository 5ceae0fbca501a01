-- EAWE: hand-written migration
-- (Prisma does not model triggers, sequences' positions or privileges.)
-- The audit log becomes a Merkle log sealed by one elected sealer (eawe/audit_sealer.py):
--   * appenders insert unsealed rows only (leafIndex, hash, prevHash NULL; seq from the global
--     sequence, xactId from the inserting transaction);
--   * the sealer may set leafIndex once, and hash / prevHash where they are still NULL; every
--     other column, and a sealed row, stays as inserted; DELETE and TRUNCATE stay refused;
--   * signed tree heads are append-only too.
-- Rows chained before this migration keep seq, prevHash and hash; the sealer puts them into each
-- tenant's tree first, in their old seq order (they all carry this migration's xactId).

-- New appenders continue after every existing per-tenant seq.
SELECT setval('auditlog_seq_seq', COALESCE((SELECT max("seq") FROM "AuditLog"), 0) + 1, false);

-- CreateFunction
CREATE FUNCTION "eawe_audit_log_seal_once"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW."leafIndex" IS NULL AND NEW."hash" IS NULL AND NEW."prevHash" IS NULL THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'the audit log is append-only: INSERT of a sealed row into "AuditLog" is not allowed'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'leafIndex, hash and prevHash are set by the sealer';
    END IF;
    IF OLD."leafIndex" IS NULL AND NEW."leafIndex" IS NOT NULL
       AND NEW."hash" IS NOT NULL AND NEW."prevHash" IS NOT NULL
       AND (OLD."hash" IS NULL OR NEW."hash" = OLD."hash")
       AND (OLD."prevHash" IS NULL OR NEW."prevHash" = OLD."prevHash")
       AND (NEW."id", NEW."tenantId", NEW."seq", NEW."xactId", NEW."workflowRunId", NEW."actorId",
            NEW."actorType", NEW."action", NEW."details", NEW."timestamp")
           IS NOT DISTINCT FROM
           (OLD."id", OLD."tenantId", OLD."seq", OLD."xactId", OLD."workflowRunId", OLD."actorId",
            OLD."actorType", OLD."action", OLD."details", OLD."timestamp")
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: UPDATE on "AuditLog" is not allowed'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit rows can only be inserted; the sealer sets leafIndex, hash and prevHash once';
END;
$$;

-- DropTrigger
DROP TRIGGER "AuditLog_append_only_row" ON "AuditLog";

-- CreateTrigger
CREATE TRIGGER "AuditLog_append_only_row"
    BEFORE DELETE ON "AuditLog"
    FOR EACH ROW EXECUTE FUNCTION "eawe_audit_log_append_only"();

-- CreateTrigger
CREATE TRIGGER "AuditLog_seal_once_row"
    BEFORE INSERT OR UPDATE ON "AuditLog"
    FOR EACH ROW EXECUTE FUNCTION "eawe_audit_log_seal_once"();

-- CreateFunction
CREATE FUNCTION "eawe_audit_tree_head_append_only"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'signed tree heads are append-only: % on "AuditTreeHead" is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'tree heads can only be inserted';
END;
$$;

-- CreateTrigger
CREATE TRIGGER "AuditTreeHead_append_only_row"
    BEFORE UPDATE OR DELETE ON "AuditTreeHead"
    FOR EACH ROW EXECUTE FUNCTION "eawe_audit_tree_head_append_only"();

-- CreateTrigger
CREATE TRIGGER "AuditTreeHead_append_only_truncate"
    BEFORE TRUNCATE ON "AuditTreeHead"
    FOR EACH STATEMENT EXECUTE FUNCTION "eawe_audit_tree_head_append_only"();

-- RevokePrivileges
REVOKE UPDATE, DELETE, TRUNCATE ON "AuditTreeHead" FROM PUBLIC;
