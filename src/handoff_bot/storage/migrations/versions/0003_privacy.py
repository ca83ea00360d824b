"""privacy: customers.erased_at, contacts.redacted_at

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 (reviewed by hand)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import handoff_bot.storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("erased_at", handoff_bot.storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("redacted_at", handoff_bot.storage.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("redacted_at")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
