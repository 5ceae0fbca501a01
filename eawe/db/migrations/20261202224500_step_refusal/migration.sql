-- EAWE: hand-written migration
-- A step's rows and its checkpoint are sent to PostgreSQL in one pipeline (BEGIN … COMMIT, one
-- round trip). The statement that checks the run's lease must then abort the transaction itself
-- when the lease is gone, so the checkpoint sent after it is never committed: it calls this
-- function, which raises SQLSTATE EA001 (lease held by another worker) or EA002 (no such run).
CREATE FUNCTION eawe_refuse_step(run_id text, leased boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  IF leased THEN
    RAISE EXCEPTION 'run %: the lease is held by another worker', run_id USING ERRCODE = 'EA001';
  END IF;
  RAISE EXCEPTION 'run % does not exist', run_id USING ERRCODE = 'EA002';
END
$$;
