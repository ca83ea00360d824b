"""outbox: lanes (urgent rows first), partial indexes over pending and dead rows instead of full ones

Before a table had statistics (a new install, or a burst after a quiet spell), PostgreSQL planned the
lease's "first pending row of this key" lookup through ix_outbox_status_due_at, reading every pending
row per candidate. With partial indexes each query has one sensible index, and done rows (the bulk of
the table) stay out of them. The lane puts rows someone is waiting for on screen (a click's answer)
before a burst of new cards.

Revision ID: 0006_outbox_pending_key
Revises: 0005_teams
Create Date: 2026-12-02 (reviewed by hand)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_outbox_pending_key"
down_revision = "0005_teams"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")
DEAD = sa.text("status = 'dead'")


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lane", sa.SmallInteger(), server_default="1", nullable=False))
        batch_op.create_index(
            "ix_outbox_pending_due", ["lane", "due_at", "id"], postgresql_where=PENDING, sqlite_where=PENDING
        )
        batch_op.create_index(
            "ix_outbox_pending_key", ["key", "id"], postgresql_where=PENDING, sqlite_where=PENDING
        )
        batch_op.create_index("ix_outbox_dead", ["id"], postgresql_where=DEAD, sqlite_where=DEAD)
        batch_op.drop_index("ix_outbox_status_due_at")
        batch_op.drop_index("ix_outbox_key_status")


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_key_status", ["key", "status"], unique=False)
        batch_op.create_index("ix_outbox_status_due_at", ["status", "due_at"], unique=False)
        batch_op.drop_index("ix_outbox_dead")
        batch_op.drop_index("ix_outbox_pending_key")
        batch_op.drop_index("ix_outbox_pending_due")
        batch_op.drop_column("lane")
