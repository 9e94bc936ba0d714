-- name: graph/bulk_replica_allowed
-- purpose: Whether this role may SET session_replication_role (superuser, or a GRANT SET ON PARAMETER of PostgreSQL 15+), whether the transaction is READ COMMITTED (each statement sees what others committed before it), and how many triggers and rules that are not PostgreSQL's own sit on db_dbnode and the given tables (replica mode would silence them).
-- params: tables
-- returns: may_set, read_committed, foreign_triggers
SELECT has_parameter_privilege('session_replication_role', 'SET'),
       current_setting('transaction_isolation') = 'read committed',
       (SELECT count(*) FROM pg_trigger
        WHERE (tgrelid = ANY(%(tables)s::oid[]) OR tgrelid = 'db_dbnode'::regclass) AND NOT tgisinternal)
       + (SELECT count(*) FROM pg_rewrite
          WHERE (ev_class = ANY(%(tables)s::oid[]) OR ev_class = 'db_dbnode'::regclass) AND rulename <> '_RETURN');
