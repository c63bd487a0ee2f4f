"""quotes and their yearly number counter

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 05:50:52.999729
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('quote_number_counter',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_quote_number_counter'))
    )
    op.create_table('quote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('applicant_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('billed_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('billed_organisation', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('billed_address', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('billed_email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('subtotal_cents', sa.BigInteger(), nullable=False),
    sa.Column('discount_cents', sa.BigInteger(), nullable=False),
    sa.Column('total_cents', sa.BigInteger(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('discount_id', sa.Integer(), nullable=True),
    sa.Column('vat_rate', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('vat_note', sa.Text(), nullable=False),
    sa.Column('notes', sa.JSON(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('declined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['applicant_id'], ['user_account.id'], name=op.f('fk_quote_applicant_id_user_account')),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_quote_application_id_application')),
    sa.ForeignKeyConstraint(['discount_id'], ['discount.id'], name=op.f('fk_quote_discount_id_discount'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['training_session.id'], name=op.f('fk_quote_session_id_training_session')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quote')),
    sa.UniqueConstraint('number', name=op.f('uq_quote_number'))
    )
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.create_index('ix_quote_applicant_id_id', ['applicant_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quote_application_id'), ['application_id'], unique=False)
        batch_op.create_index('ix_quote_session_id_id', ['session_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quote_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quote_status'))
        batch_op.drop_index('ix_quote_session_id_id')
        batch_op.drop_index(batch_op.f('ix_quote_application_id'))
        batch_op.drop_index('ix_quote_applicant_id_id')

    op.drop_table('quote')
    op.drop_table('quote_number_counter')
