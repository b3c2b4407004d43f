"""orders remember the intent's attempt, so a re-run finds its stored intent (and tag) by the intent's key

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 11:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('attempt', sa.Integer(), nullable=False, server_default='1'))
        batch.create_index('ix_orders_intent', ['trading_date', 'task', 'symbol', 'side', 'attempt'])


def downgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.drop_index('ix_orders_intent')
        batch.drop_column('attempt')
