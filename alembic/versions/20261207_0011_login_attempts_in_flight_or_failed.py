"""a login attempt is in flight or failed: only failures count for its client address

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 18:00:00.000000

An office or a campus behind one address logs in together: its logins in flight count against
their account only, and its address is refused after its failures alone reach the limit.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed', sa.Boolean(), server_default=sa.false(), nullable=False))
    # The attempts recorded so far counted against their address: they stay failures of it.
    attempts = sa.table('login_attempt', sa.column('failed', sa.Boolean()))
    op.execute(attempts.update().values(failed=True))


def downgrade() -> None:
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_column('failed')
