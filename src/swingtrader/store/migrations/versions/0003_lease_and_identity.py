"""instance lease and store identity

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-02 11:20:00
"""
from alembic import op
import sqlalchemy as sa
import swingtrader.store.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('instance_lease',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=40), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('control_url', sa.String(length=255), nullable=True),
    sa.Column('started_at', swingtrader.store.types.UtcDateTime(length=32), nullable=False),
    sa.Column('heartbeat_at', swingtrader.store.types.UtcDateTime(length=32), nullable=False),
    sa.Column('expires_at', swingtrader.store.types.UtcDateTime(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('store_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=True),
    sa.Column('created_at', swingtrader.store.types.UtcDateTime(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('store_identity')
    op.drop_table('instance_lease')
