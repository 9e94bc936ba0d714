"""Initial main branch schema.

The ten tables of aiida-core's psql_dos storage, created from ``sql/schema/main_0001.sql``.

Revision ID: main_0001
Revises:
Create Date: 2021-02-02
"""

from alembic import op

from fastdos import queries

revision = "main_0001"
down_revision = None
branch_labels = ("main",)
depends_on = None


def upgrade() -> None:
    """Create the tables, sequences, constraints and indexes of the psql_dos schema."""
    op.get_bind().exec_driver_sql(queries.get("schema/main_0001").text)


def downgrade() -> None:
    """Downgrade of the initial schema is not possible (as in aiida-core)."""
    raise NotImplementedError("Downgrade of main_0001.")
