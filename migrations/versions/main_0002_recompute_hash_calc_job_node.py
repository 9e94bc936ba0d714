"""Drop the hashes for all ``CalcJobNode`` instances.

The computed hash erroneously included the hash of the file repository. This was present as of v2.0 and
so all nodes created with versions since then will have incorrect hashes.

Revision ID: main_0002
Revises: main_0001
Create Date: 2023-05-05
"""

from alembic import op

from fastdos import queries

revision = "main_0002"
down_revision = "main_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Remove ``extras._aiida_hash`` from every CalcJobNode."""
    op.get_bind().exec_driver_sql(queries.get("schema/main_0002").text)


def downgrade() -> None:
    """Remove the hashes again (the same operation, as in aiida-core)."""
    op.get_bind().exec_driver_sql(queries.get("schema/main_0002").text)
