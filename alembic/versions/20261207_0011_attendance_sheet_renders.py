"""attendance sheets kept rendered: one PDF per session, under the digest of what it prints

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 18:00:00.000000

A sheet renders once per change of what it prints, whichever process serves it: the row is
replaced when the digest changes, and goes with its session.
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('attendance_sheet_render',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('rendered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['training_session.id'], name=op.f('fk_attendance_sheet_render_session_id_training_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_attendance_sheet_render'))
    )


def downgrade() -> None:
    op.drop_table('attendance_sheet_render')
