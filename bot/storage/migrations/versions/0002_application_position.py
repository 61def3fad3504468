"""Applications keep the applicant's 職名 (position), which the form asks for.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 06:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: applications stored before this revision have no 職名.
    with op.batch_alter_table('applications') as batch_op:
        batch_op.add_column(sa.Column('position', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('applications') as batch_op:
        batch_op.drop_column('position')
