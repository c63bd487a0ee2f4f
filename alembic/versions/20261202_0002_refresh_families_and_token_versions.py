"""refresh families and token versions

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 05:20:10.410203
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('refresh_family',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_refresh_family_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refresh_family'))
    )
    with op.batch_alter_table('refresh_family', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refresh_family_user_id'), ['user_id'], unique=False)

    # Every chain already issued gets its family row, revoked when all its tokens are.
    op.execute(
        "INSERT INTO refresh_family (id, user_id, created_at, revoked_at) "
        "SELECT family_id, MIN(user_id), MIN(created_at), "
        "CASE WHEN COUNT(revoked_at) = COUNT(*) THEN MAX(revoked_at) END "
        "FROM refresh_token GROUP BY family_id"
    )
    with op.batch_alter_table('refresh_token', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_refresh_token_family_id_refresh_family'), 'refresh_family', ['family_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_version', sa.Integer(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('token_version')

    with op.batch_alter_table('refresh_token', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_refresh_token_family_id_refresh_family'), type_='foreignkey')

    with op.batch_alter_table('refresh_family', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_family_user_id'))

    op.drop_table('refresh_family')
