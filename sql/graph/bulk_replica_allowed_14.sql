-- name: graph/bulk_replica_allowed_14
-- purpose: graph/bulk_replica_allowed for PostgreSQL before 15, which has no has_parameter_privilege: there only a superuser may SET session_replication_role.
-- params: tables
-- returns: may_set, read_committed, foreign_triggers
SELECT current_setting('is_superuser') = 'on',
       current_setting('transaction_isolation') = 'read committed',
       (SELECT count(*) FROM pg_trigger
        WHERE (tgrelid = ANY(%(tables)s::oid[]) OR tgrelid = 'db_dbnode'::regclass) AND NOT tgisinternal)
       + (SELECT count(*) FROM pg_rewrite
          WHERE (ev_class = ANY(%(tables)s::oid[]) OR ev_class = 'db_dbnode'::regclass) AND rulename <> '_RETURN');
