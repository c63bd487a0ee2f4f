"""issued quotes and certificates keep what they print

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 09:00:00.000000

`quote.as_issued` (null while draft) and `certificate.as_issued` hold what the document prints
beyond its own columns, taken at issue: the organisation's identity, the session's title, dates,
hours and place, and for a certificate the trainee's name and position, the objectives and the
published results. Rows issued before this revision are filled from what they printed until now:
the current session, trainee and results, and the organisation of the settings this migration
runs with (read only when there is a row to fill).
"""
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_QUOTE = sa.table(
    'quote', sa.column('id', sa.Integer), sa.column('number', sa.String),
    sa.column('session_id', sa.Integer), sa.column('as_issued', sa.JSON),
)
_CERTIFICATE = sa.table(
    'certificate', sa.column('id', sa.Integer), sa.column('application_id', sa.Integer),
    sa.column('as_issued', sa.JSON),
)
_SESSION = sa.table(
    'training_session', sa.column('id', sa.Integer), sa.column('title', sa.String),
    sa.column('start_date', sa.Date), sa.column('end_date', sa.Date), sa.column('days', sa.Integer),
    sa.column('hours', sa.Integer), sa.column('daily_start_time', sa.Time),
    sa.column('daily_end_time', sa.Time), sa.column('city', sa.String), sa.column('venue', sa.String),
    sa.column('address', sa.String), sa.column('price_excludes', sa.JSON),
    sa.column('objectives', sa.JSON),
)
_APPLICATION = sa.table(
    'application', sa.column('id', sa.Integer), sa.column('session_id', sa.Integer),
    sa.column('applicant_id', sa.Integer), sa.column('job_title', sa.String),
    sa.column('organisation', sa.String),
)
_USER = sa.table('user_account', sa.column('id', sa.Integer), sa.column('full_name', sa.String))
_DELIVERABLE = sa.table('deliverable', sa.column('id', sa.Integer), sa.column('title', sa.String))
_MEMBER = sa.table(
    'deliverable_member', sa.column('deliverable_id', sa.Integer), sa.column('application_id', sa.Integer)
)
_EVALUATION = sa.table(
    'evaluation', sa.column('id', sa.Integer), sa.column('deliverable_id', sa.Integer),
    sa.column('score', sa.Numeric(7, 2)), sa.column('max_score', sa.Integer),
    sa.column('published', sa.Boolean),
)
_PRINTED_SESSION = (
    'title', 'start_date', 'end_date', 'days', 'hours', 'daily_start_time', 'daily_end_time', 'city',
    'venue', 'address', 'price_excludes',
)


def upgrade() -> None:
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.add_column(sa.Column('as_issued', sa.JSON(), nullable=True))
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('as_issued', sa.JSON(), nullable=True))
    _fill_issued_quotes()
    _fill_certificates()
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.alter_column('as_issued', existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_column('as_issued')
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.drop_column('as_issued')


def _organisation() -> dict[str, str]:
    from api.config import get_settings

    settings = get_settings()
    return {
        'name': settings.org_name,
        'address': settings.org_address,
        'email': settings.org_email,
        'phone': settings.org_phone,
        'siret': settings.org_siret,
        'training_declaration': settings.org_training_declaration,
    }


def _session(row: Any) -> dict[str, Any]:
    printed = {name: row._mapping[name] for name in _PRINTED_SESSION}
    for name in ('start_date', 'end_date', 'daily_start_time', 'daily_end_time'):
        printed[name] = printed[name].isoformat()
    printed['price_excludes'] = list(printed['price_excludes'] or [])
    return printed


def _fill_issued_quotes() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_QUOTE.c.id, *(_SESSION.c[name] for name in _PRINTED_SESSION))
        .join(_SESSION, _SESSION.c.id == _QUOTE.c.session_id)
        .where(_QUOTE.c.number.is_not(None))
    ).all()
    if not rows:
        return
    organisation = _organisation()
    for row in rows:
        connection.execute(
            sa.update(_QUOTE)
            .where(_QUOTE.c.id == row.id)
            .values(as_issued={'organisation': organisation, 'session': _session(row)})
        )


def _fill_certificates() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            _CERTIFICATE.c.id,
            _CERTIFICATE.c.application_id,
            _USER.c.full_name,
            _APPLICATION.c.job_title,
            _APPLICATION.c.organisation,
            _SESSION.c.objectives,
            *(_SESSION.c[name] for name in _PRINTED_SESSION),
        )
        .join(_APPLICATION, _APPLICATION.c.id == _CERTIFICATE.c.application_id)
        .join(_SESSION, _SESSION.c.id == _APPLICATION.c.session_id)
        .join(_USER, _USER.c.id == _APPLICATION.c.applicant_id)
    ).all()
    if not rows:
        return
    organisation = _organisation()
    for row in rows:
        results = connection.execute(
            sa.select(_DELIVERABLE.c.title, _EVALUATION.c.score, _EVALUATION.c.max_score)
            .join(_EVALUATION, _EVALUATION.c.deliverable_id == _DELIVERABLE.c.id)
            .join(_MEMBER, _MEMBER.c.deliverable_id == _DELIVERABLE.c.id)
            .where(_MEMBER.c.application_id == row.application_id, _EVALUATION.c.published.is_(True))
            .order_by(_DELIVERABLE.c.id, _EVALUATION.c.id)
        ).all()
        as_issued = {
            'organisation': organisation,
            'trainee_name': row.full_name,
            'trainee_position': ', '.join(p for p in (row.job_title, row.organisation) if p),
            'session': _session(row),
            'objectives': list(row.objectives or []),
            'results': [
                {'title': title, 'score': str(Decimal(score)), 'max_score': max_score}
                for title, score, max_score in results
            ],
        }
        connection.execute(
            sa.update(_CERTIFICATE).where(_CERTIFICATE.c.id == row.id).values(as_issued=as_issued)
        )
