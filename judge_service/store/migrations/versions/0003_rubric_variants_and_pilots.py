"""Rubric variants (each wording's hash, recorded on first use) and stored rubric pilots.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 02:15:19.550410
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rubric_pilots',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('rubric_name', sa.String(length=64), nullable=False),
    sa.Column('rubric_version', sa.Integer(), nullable=False),
    sa.Column('rubric_hash', sa.String(length=64), nullable=False),
    sa.Column('variants', sa.JSON(), nullable=False),
    sa.Column('wording_sensitive', sa.Boolean(), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rubric_pilots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rubric_pilots_rubric_name'), ['rubric_name'], unique=False)

    op.create_table('rubric_variants',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('variant', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', 'version', 'variant')
    )


def downgrade() -> None:
    op.drop_table('rubric_variants')
    with op.batch_alter_table('rubric_pilots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rubric_pilots_rubric_name'))

    op.drop_table('rubric_pilots')
