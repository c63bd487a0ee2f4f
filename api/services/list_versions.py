"""Versions of the application lists, so that a rendered list is served only while it is current.

A session's row and an applicant's row each carry an `applications_version`. A new application
bumps both in its INSERT, by a trigger (migration 0009). Every flush that changes or deletes an
application marks both, and they are bumped just before the transaction commits, in it; a change
of the name or email an application shows bumps them at once. A cached
list is keyed on the version it was read at, and every read asks the database for the version
again: whichever process made a change, the next read anywhere renders afresh
(docs/caching.md). Statements that bypass the ORM mark explicitly (`mark_application_lists`,
`bump_applicant_lists`).
"""

from collections.abc import Iterable
from itertools import chain
from typing import Any

from sqlalchemy import Select, bindparam, event, inspect, select, update
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction
from sqlmodel import Session, col

from models.application import Application
from models.training_session import TrainingSession
from models.user import User

_SESSIONS = TrainingSession.__table__  # type: ignore[attr-defined]
_USERS = User.__table__  # type: ignore[attr-defined]
_SHOWN_USER_FIELDS = ("full_name", "email")
# The lists a transaction changed, bumped just before it commits.
_MARKED = "ateliers_marked_application_lists"


def bump_application_lists(
    db: OrmSession, *, session_ids: Iterable[int], applicant_ids: Iterable[int]
) -> None:
    """Mark the lists of these sessions and applicants as changed, in the current transaction."""
    sessions, applicants = sorted(set(session_ids)), sorted(set(applicant_ids))
    connection = db.connection()
    # Always in id order, sessions first: two transactions never wait on each other's rows in turn.
    for bumps, ids in ((_BUMP_SESSIONS, sessions), (_BUMP_USERS, applicants)):
        if len(ids) == 1:
            connection.execute(bumps.one, {"row_id": ids[0]})
        elif ids:
            connection.execute(bumps.many, {"row_ids": ids})


class _Bumps:
    """The two statements that bump a table's versions, built once: building them on every write
    cost a quarter of a submission's time."""

    def __init__(self, table: Any) -> None:
        bump = update(table).values(applications_version=table.c.applications_version + 1)
        self.one = bump.where(table.c.id == bindparam("row_id"))
        self.many = bump.where(table.c.id.in_(bindparam("row_ids", expanding=True)))


_BUMP_SESSIONS = _Bumps(_SESSIONS)
_BUMP_USERS = _Bumps(_USERS)


def bump_applicant_lists(db: Session, applicants: Select[Any]) -> None:
    """Before a bulk change of applications, mark the lists of the applicants it selects."""
    mark_application_lists(db, session_ids=(), applicant_ids=db.execute(applicants).scalars().all())


def mark_application_lists(
    db: OrmSession, *, session_ids: Iterable[int], applicant_ids: Iterable[int]
) -> None:
    """Mark these lists as changed by a statement that bypasses the ORM; bumped before COMMIT."""
    sessions, applicants = db.info.setdefault(_MARKED, (set(), set()))
    sessions.update(session_ids)
    applicants.update(applicant_ids)


def _changed(db: OrmSession, instance: Any) -> bool:
    # A new one is left to the database's trigger.
    return instance in db.deleted or (
        instance not in db.new and db.is_modified(instance, include_collections=False)
    )


@event.listens_for(OrmSession, "before_flush")
def _mark_lists_shown_by_the_flush(db: OrmSession, _context: UOWTransaction, _instances: Any) -> None:
    renamed: set[int] = set()
    for instance in chain(db.new, db.dirty, db.deleted):
        if isinstance(instance, Application) and _changed(db, instance):
            mark_application_lists(
                db, session_ids=(instance.session_id,), applicant_ids=(instance.applicant_id,)
            )
        elif isinstance(instance, User) and instance.id is not None and instance in db.dirty:
            state = inspect(instance)
            if any(state.attrs[name].history.has_changes() for name in _SHOWN_USER_FIELDS):
                renamed.add(instance.id)
    if renamed:
        # Bumped now, before the account's own row is written: every transaction locks the
        # sessions' rows before the accounts'.
        sessions = (
            db.connection()
            .execute(select(col(Application.session_id)).where(col(Application.applicant_id).in_(renamed)))
            .scalars()
            .all()
        )
        bump_application_lists(db, session_ids=sessions, applicant_ids=renamed)


@event.listens_for(OrmSession, "before_commit")
def _bump_marked_lists(db: OrmSession) -> None:
    # Last, so that the rows are locked only for the commit: two submissions of one applicant, or
    # to one session, wait on each other that long and no longer.
    db.flush()
    sessions, applicants = db.info.pop(_MARKED, ((), ()))
    if sessions or applicants:
        bump_application_lists(db, session_ids=sessions, applicant_ids=applicants)


@event.listens_for(OrmSession, "after_rollback")
def _forget_marked_lists(db: OrmSession) -> None:
    db.info.pop(_MARKED, None)
