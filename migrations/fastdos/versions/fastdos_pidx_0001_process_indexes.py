"""Expression indexes on the process attributes AiiDA's engine queries (opt-in, own branch).

Btree indexes on ``(attributes #> '{<key>}')`` for ``process_state``, ``process_label``, ``exit_status`` and
``sealed``, partial on ``node_type LIKE 'process.%'`` (aiida-core#2770: ``verdi process list`` scans every
node). Built CONCURRENTLY outside the migration transaction, so a running daemon is not blocked. Idempotent
(``IF NOT EXISTS``/``IF EXISTS``), as every revision of this environment must be. The DDL comes from
:mod:`fastdos.query.indexes`, which also names the indexes, so ``fastdos index list`` shows them.

Revision ID: fastdos_pidx_0001
Revises:
Create Date: 2025-01-01
"""

from alembic import op
from psycopg import sql

from fastdos.query.indexes import ddl, process_index_specs

revision = "fastdos_pidx_0001"
down_revision = None
branch_labels = ("process_indexes",)
depends_on = None


def _run(query: str, **identifiers: sql.Composable) -> None:
    # The psycopg connection under SQLAlchemy's: the statement runs without parameters (its LIKE pattern
    # holds a '%'), in the autocommit block that CREATE INDEX CONCURRENTLY needs.
    ddl(op.get_bind().connection.driver_connection, query, **identifiers)


def upgrade() -> None:
    """Create the four partial expression indexes."""
    with op.get_context().autocommit_block():
        for spec in process_index_specs():
            _run("query/create_index_concurrently", **spec.pieces())


def downgrade() -> None:
    """Drop them."""
    with op.get_context().autocommit_block():
        for spec in process_index_specs():
            _run("query/drop_index_concurrently", name=sql.Identifier(spec.name))
