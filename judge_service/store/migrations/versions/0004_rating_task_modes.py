"""The mode of a blind rating task (pairwise or absolute, with the scale), in a table of its own.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 02:27:54.957368
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rating_task_modes',
    sa.Column('task_id', sa.String(length=40), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('scale', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('task_id')
    )


def downgrade() -> None:
    op.drop_table('rating_task_modes')
