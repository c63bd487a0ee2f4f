"""attendance by half-day: one row per trainee present at a half-day of a session

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 06:46:58.505794
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('half_day_attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('half_day', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_half_day_attendance_application_id_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_half_day_attendance_recorded_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['training_session.id'], name=op.f('fk_half_day_attendance_session_id_training_session'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_half_day_attendance')),
    sa.UniqueConstraint('session_id', 'day', 'half_day', 'application_id', name=op.f('uq_half_day_attendance_session_day_half_day_application'))
    )
    with op.batch_alter_table('half_day_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_half_day_attendance_application_id'), ['application_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('half_day_attendance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_half_day_attendance_application_id'))

    op.drop_table('half_day_attendance')
