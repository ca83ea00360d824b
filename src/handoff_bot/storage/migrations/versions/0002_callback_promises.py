"""callback promises: contacts.callback_before

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


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("callback_before")
