"""indexes for every list filter and its order

The lists of applications and quotes read one page whatever the tables hold: the secretariat's
applications of a session, or of a status, come from an index in id order; a quote status index
gains the id so that a page of one status needs no sort (tests/test_query_plans.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 08:47:00.961670
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.create_index('ix_application_session_id_id', ['session_id', 'id'], unique=False)
        batch_op.create_index('ix_application_status_id', ['status', 'id'], unique=False)

    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quote_status'))
        batch_op.create_index('ix_quote_status_id', ['status', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.drop_index('ix_quote_status_id')
        batch_op.create_index(batch_op.f('ix_quote_status'), ['status'], unique=False)

    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_index('ix_application_status_id')
        batch_op.drop_index('ix_application_session_id_id')
