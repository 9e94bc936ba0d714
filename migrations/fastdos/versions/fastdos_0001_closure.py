"""Install the transitive-closure table of the provenance links (opt-in).

Creates ``fastdos_closure`` (parent_id, child_id, depth) and its bookkeeping table ``fastdos_closure_state``
with :func:`fastdos.closure.install_tc`; no foreign keys and no triggers, so aiida-core's deletions and
resets are unaffected. The table starts empty: ``Backend.refresh_closure()`` builds it.

Revision ID: fastdos_0001
Revises:
Create Date: 2025-01-01
"""

from alembic import op

from fastdos.closure import get_pg_tc_drop, install_tc

revision = "fastdos_0001"
down_revision = None
branch_labels = ("fastdos",)
depends_on = None


def upgrade() -> None:
    """Create the closure and state tables (idempotent)."""
    install_tc(op.get_bind())


def downgrade() -> None:
    """Drop them."""
    op.get_bind().exec_driver_sql(get_pg_tc_drop())
