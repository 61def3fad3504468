"""The dashboard's marked dates move from a JSON file per replica into the database.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 07:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stats_marks',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_stats_marks'))
    )


def downgrade() -> None:
    op.drop_table('stats_marks')
