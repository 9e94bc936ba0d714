"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    """Migrations for the upgrade."""
    ${upgrades if upgrades else "raise NotImplementedError"}


def downgrade() -> None:
    """Migrations for the downgrade."""
    ${downgrades if downgrades else "raise NotImplementedError"}
