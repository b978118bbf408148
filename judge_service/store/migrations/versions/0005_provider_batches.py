"""Provider batches (OpenAI Batch, Anthropic Message Batches) and their requests, stored before they are sent.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 02:52:34.457863
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('judge_batches',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('judge', sa.String(length=64), nullable=False),
    sa.Column('provider_batch_id', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('provider_status', sa.String(length=32), nullable=True),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('succeeded', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('judge_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_judge_batches_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_judge_batches_status'), ['status'], unique=False)

    op.create_table('judge_batch_requests',
    sa.Column('pk', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('batch_id', sa.String(length=40), nullable=False),
    sa.Column('cache_key', sa.String(length=64), nullable=False),
    sa.Column('structured', sa.Boolean(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('retryable', sa.Boolean(), nullable=False),
    sa.Column('delivered', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['judge_batches.id'], ),
    sa.PrimaryKeyConstraint('pk')
    )
    with op.batch_alter_table('judge_batch_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_judge_batch_requests_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_judge_batch_requests_cache_key'), ['cache_key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('judge_batch_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_judge_batch_requests_cache_key'))
        batch_op.drop_index(batch_op.f('ix_judge_batch_requests_batch_id'))

    op.drop_table('judge_batch_requests')
    with op.batch_alter_table('judge_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_judge_batches_status'))
        batch_op.drop_index(batch_op.f('ix_judge_batches_run_id'))

    op.drop_table('judge_batches')
