-- EAWE: hand-written migration
-- (Prisma does not model triggers or privileges.)
-- Makes "AuditLog" append-only: rows may be inserted, never changed or removed.
--
-- The engine connects as the database owner in embedded mode, and REVOKE does not
-- bind the owner, so the triggers are what actually enforce this; the REVOKE covers
-- every other role. Both raise SQLSTATE 42501 (insufficient_privilege).
-- Foreign keys that would rewrite audit rows (ON DELETE SET NULL from "WorkflowRun"
-- and "User") are refused too: a run or user with audit history cannot be deleted.

-- CreateFunction
CREATE FUNCTION "eawe_audit_log_append_only"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on "AuditLog" is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit rows can only be inserted';
END;
$$;

-- CreateTrigger
CREATE TRIGGER "AuditLog_append_only_row"
    BEFORE UPDATE OR DELETE ON "AuditLog"
    FOR EACH ROW EXECUTE FUNCTION "eawe_audit_log_append_only"();

-- CreateTrigger
CREATE TRIGGER "AuditLog_append_only_truncate"
    BEFORE TRUNCATE ON "AuditLog"
    FOR EACH STATEMENT EXECUTE FUNCTION "eawe_audit_log_append_only"();

-- RevokePrivileges
REVOKE UPDATE, DELETE, TRUNCATE ON "AuditLog" FROM PUBLIC;
