"""reminders: contacts.callback_before, outbox.dedupe_key

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 (reviewed by hand)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import handoff_bot.storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("callback_before", handoff_bot.storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_outbox_dedupe_key"), ["dedupe_key"])


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_outbox_dedupe_key"), type_="unique")
        batch_op.drop_column("dedupe_key")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("callback_before")
