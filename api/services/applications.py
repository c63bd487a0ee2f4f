"""Applications: submission online or on paper, decisions under a hard capacity, the waiting list,
withdrawals, discounts, and the history of every change.

Every write that may change seats or the waiting list locks the session row first, then the
application: one order everywhere, so concurrent decisions never deadlock and never overfill.
"""

import functools
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import bindparam, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, or_, select

from api.clock import paris_today
from api.errors import (
    AlreadyApplied,
    DeadlinePassed,
    Forbidden,
    InvalidTransition,
    NotFound,
    SessionFull,
    SessionNotOpen,
    UnknownDiscount,
    ValidationFailed,
)
from api.services.auth import Actor
from api.services.catalogue import bump_catalogue_version
from api.services.sessions import SessionAdmission, find_session, find_session_admission
from models.application import (
    ActorRef,
    ApplicantRef,
    Application,
    ApplicationCreate,
    ApplicationEvent,
    ApplicationEventPublic,
    ApplicationPublic,
    ApplicationStatus,
    ApplicationTrainerView,
    ApplicationUpdate,
    Billing,
    Channel,
    Decision,
    DiscountStatus,
    PaperApplicationCreate,
)
from models.base import stored_row
from models.discount import Discount
from models.training_session import SessionStatus, SessionTrainer, TrainingSession
from models.user import Role, User

# decision -> the states it may be taken from
DECISIONS: dict[Decision, frozenset[ApplicationStatus]] = {
    Decision.accepted: frozenset({ApplicationStatus.submitted, ApplicationStatus.waitlisted}),
    Decision.rejected: frozenset({ApplicationStatus.submitted, ApplicationStatus.waitlisted}),
    Decision.waitlisted: frozenset({ApplicationStatus.submitted}),
}
WITHDRAWABLE = frozenset(
    {ApplicationStatus.submitted, ApplicationStatus.accepted, ApplicationStatus.waitlisted}
)
# A paper file postmarked on time may reach the secretariat after it closed applications.
PAPER_STATUSES = frozenset({SessionStatus.published, SessionStatus.closed})
DECIDED_DISCOUNTS = frozenset({DiscountStatus.claimed, DiscountStatus.approved, DiscountStatus.refused})


@dataclass(frozen=True)
class ApplicationFilters:
    session_id: int | None = None
    status: ApplicationStatus | None = None


# Reading


def find_application(db: Session, application_id: int) -> Application:
    """An application by id, whoever may see it; otherwise NotFound."""
    application = db.get(Application, application_id)
    if application is None:
        raise NotFound("No application with this id.")
    return application


def find_owned_application(db: Session, application_id: int, *, actor: Actor) -> Application:
    """An application its owner or the secretariat may act on; NotFound for anyone else, trainers
    included, exactly as for one that does not exist."""
    application = find_application(db, application_id)
    if not actor.is_secretariat and application.applicant_id != actor.id:
        raise NotFound("No application with this id.")
    return application


def trainer_teaches(db: Session, *, trainer_id: int, session_id: int) -> bool:
    """Whether the trainer is assigned to the session."""
    link = db.get(SessionTrainer, (session_id, trainer_id))
    return link is not None


def may_read(db: Session, actor: Actor, application: Application) -> bool:
    """Owner, secretariat, or a trainer of the session once the application is accepted."""
    if actor.is_secretariat or application.applicant_id == actor.id:
        return True
    return (
        actor.role == Role.trainer
        and application.status == ApplicationStatus.accepted
        and trainer_teaches(db, trainer_id=actor.id, session_id=application.session_id)
    )


def list_applications(
    db: Session, actor: Actor, filters: ApplicationFilters, *, limit: int, offset: int
) -> tuple[list[Application], int]:
    """One page, in id order: an applicant's own, a trainer's accepted trainees, or all of them."""
    conditions: list[Any] = []
    order: Any = col(Application.id)
    if actor.role == Role.secretariat:
        pass
    elif actor.role == Role.trainer:
        taught = select(SessionTrainer.session_id).where(SessionTrainer.user_id == actor.id)
        conditions += [
            col(Application.session_id).in_(taught),
            Application.status == ApplicationStatus.accepted,
        ]
        # Sorted from the taught sessions' rows: ordering by the bare id, SQLite would rather
        # walk every accepted application in id order (ix_application_status_id).
        order = col(Application.id) + 0
    else:
        conditions.append(Application.applicant_id == actor.id)
    if filters.session_id is not None:
        conditions.append(Application.session_id == filters.session_id)
    if filters.status is not None:
        conditions.append(Application.status == filters.status)
    items = db.exec(
        select(Application)
        .where(*conditions)
        .options(selectinload(Application.applicant))  # type: ignore[arg-type]
        .order_by(order)
        .limit(limit)
        .offset(offset)
    ).all()
    total = db.exec(select(func.count()).select_from(Application).where(*conditions)).one()
    return list(items), total


def to_public(application: Application) -> ApplicationPublic:
    """The application as its owner and the secretariat read it."""
    return ApplicationPublic(
        **_shared_fields(application),
        funding=application.funding,  # type: ignore[arg-type]
        # Stored after validation: checking the email again cost more than the rest of the answer.
        billing=Billing.model_construct(
            name=application.billing_name,
            organisation=application.billing_organisation,
            address=application.billing_address,
            email=application.billing_email,
        ),
        discount_code=application.discount_code,
        discount_status=application.discount_status,  # type: ignore[arg-type]
        waitlist_position=application.waitlist_position,
        decision_note=application.decision_note,
    )


def to_trainer_view(application: Application) -> ApplicationTrainerView:
    """The application as a trainer of the session reads it: no billing, no discount."""
    return ApplicationTrainerView(**_shared_fields(application))


def view_for(actor: Actor, application: Application) -> ApplicationPublic | ApplicationTrainerView:
    """The representation `actor` is entitled to."""
    if actor.role == Role.trainer and application.applicant_id != actor.id:
        return to_trainer_view(application)
    return to_public(application)


def _shared_fields(application: Application) -> dict[str, Any]:
    applicant = application.applicant
    assert application.id is not None and applicant.id is not None
    return {
        "id": application.id,
        "session_id": application.session_id,
        "applicant": ApplicantRef(id=applicant.id, full_name=applicant.full_name, email=applicant.email),
        "status": application.status,
        "channel": application.channel,
        "submitted_at": application.submitted_at,
        "postmarked_on": application.postmarked_on,
        "motivation": application.motivation,
        "organisation": application.organisation,
        "job_title": application.job_title,
        "audience": application.audience,
        "decided_at": application.decided_at,
        "created_at": application.created_at,
        "updated_at": application.updated_at,
    }


def list_events(db: Session, application: Application) -> list[ApplicationEventPublic]:
    """Every change of the application's status or discount, oldest first."""
    rows = db.exec(
        select(ApplicationEvent, User)
        .join(User, col(User.id) == ApplicationEvent.actor_id, isouter=True)
        .where(ApplicationEvent.application_id == application.id)
        .order_by(col(ApplicationEvent.at), col(ApplicationEvent.id))
    ).all()
    return [
        ApplicationEventPublic(
            at=event.at,
            actor=ActorRef(id=user.id, full_name=user.full_name) if user and user.id else None,
            kind=cast(Any, event.kind),
            from_status=event.from_status,
            to_status=event.to_status,
            note=event.note,
        )
        for event, user in rows
    ]


# Submitting


def submit_application(
    db: Session,
    actor: Actor,
    session_ref: str,
    data: ApplicationCreate | PaperApplicationCreate,
    *,
    now: datetime,
) -> Application:
    """A new `submitted` application: online by an applicant, or a paper file recorded by the
    secretariat for an applicant's account."""
    # 404 for a session the caller may not see (a draft, a cancelled one), as for one that does not exist.
    session = find_session_admission(db, session_ref, include_private=actor.is_secretariat)
    today = paris_today(now)
    if isinstance(data, PaperApplicationCreate):
        if not actor.is_secretariat:
            raise Forbidden("Only the secretariat records paper files.")
        applicant = _paper_applicant(db, data.applicant_id)
        _check_paper_on_time(session, data.postmarked_on, today=today)
    else:
        if actor.role != Role.applicant:
            if actor.is_secretariat:
                raise ValidationFailed(
                    'The secretariat records paper files: send channel "paper", applicant_id and '
                    "postmarked_on.",
                    loc=["body", "channel"],
                )
            raise Forbidden("Only applicants apply.")
        applicant = actor.user
        if session.status != SessionStatus.published:
            raise SessionNotOpen(f"This session is {session.status}; it takes no applications.")
        if today > session.application_deadline:
            raise DeadlinePassed(f"Applications closed on {session.application_deadline.isoformat()}.")
    assert applicant.id is not None
    discount = (
        _claimable_discount(db, data.discount_code, session_id=session.id, today=today)
        if data.discount_code is not None
        else None
    )
    row: dict[str, Any] = {
        "session_id": session.id,
        "applicant_id": applicant.id,
        "status": ApplicationStatus.submitted,
        "channel": Channel(data.channel),
        "submitted_at": now,
        "postmarked_on": data.postmarked_on if isinstance(data, PaperApplicationCreate) else None,
        "motivation": data.motivation,
        "organisation": data.organisation,
        "job_title": data.job_title,
        "audience": data.audience,
        "funding": data.funding,
        "billing_name": data.billing.name,
        "billing_organisation": data.billing.organisation,
        "billing_address": data.billing.address,
        "billing_email": data.billing.email,
        **_discount_fields(discount),
        "waitlist_position": None,
        "decided_at": None,
        "decision_note": "",
        "created_at": now,
        "updated_at": now,
    }
    # INSERTs of their own rather than the unit of work, which cost a third of a submission.
    history = [_event_fields(actor, now, to_status=ApplicationStatus.submitted)]
    if discount is not None:
        history.append(
            _event_fields(
                actor, now, kind="discount", from_status=DiscountStatus.none, to_status=DiscountStatus.claimed
            )
        )
    try:
        # The partial unique index is the check: a second live application, concurrent or not, fails
        # here; the refusal rolls the whole request back, so no savepoint is needed.
        application_id = _insert_application(db, row, history)
    except IntegrityError as error:
        raise AlreadyApplied("This applicant already has an application to this session.") from error
    # Answered from the values written, not loaded again.
    return stored_row(Application, {"id": application_id, **row, "applicant": applicant})


_APPLICATIONS = Application.__table__  # type: ignore[attr-defined]
_EVENTS = ApplicationEvent.__table__  # type: ignore[attr-defined]


def _insert_application(db: Session, row: dict[str, Any], history: list[dict[str, Any]]) -> int:
    """Insert an application and the first rows of its history; its id."""
    connection = db.connection()
    inserts = _ApplicationInserts.of(tuple(row), tuple(history[0]))
    application = {f"a_{name}": value for name, value in row.items()}
    events = [{f"e_{name}": value for name, value in event.items()} for event in history]
    if connection.dialect.name == "postgresql":
        # The application and its first event in one statement: one round trip fewer, each cost a
        # submission about a tenth of its time.
        application_id: int = connection.execute(inserts.together, application | events[0]).scalar_one()
        events = events[1:]
    else:
        key = connection.execute(inserts.application, application).inserted_primary_key
        assert key is not None
        application_id = key[0]
    for event in events:
        connection.execute(inserts.event, {"e_application_id": application_id, **event})
    return application_id


@dataclass(frozen=True)
class _ApplicationInserts:
    """The INSERTs of an application and of its history's rows, from one description of each row:
    its columns, bound as `a_<column>` and `e_<column>`. PostgreSQL runs both as one statement
    (`together`: the event's INSERT reads the application's id from a CTE); SQLite, which has no
    data-modifying CTE, runs them in turn."""

    application: Any
    event: Any
    together: Any

    @staticmethod
    @functools.cache
    def of(application_columns: tuple[str, ...], event_columns: tuple[str, ...]) -> "_ApplicationInserts":
        """Built once per shape, with bound parameters: building them cost more than running them."""
        application = insert(_APPLICATIONS).values(
            {name: bindparam(f"a_{name}", type_=_APPLICATIONS.c[name].type) for name in application_columns}
        )
        fields = {name: bindparam(f"e_{name}", type_=_EVENTS.c[name].type) for name in event_columns}
        event = insert(_EVENTS).values({"application_id": bindparam("e_application_id"), **fields})
        inserted = application.returning(_APPLICATIONS.c.id).cte("inserted")
        together = (
            insert(_EVENTS)
            .from_select(["application_id", *event_columns], select(inserted.c.id, *fields.values()))
            .returning(_EVENTS.c.application_id)
        )
        return _ApplicationInserts(application, event, together)


def _event_row(
    application_id: int,
    actor: Actor,
    now: datetime,
    *,
    to_status: str,
    kind: str = "status",
    from_status: str | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One row of an application's history: a change of its status, or of its discount."""
    fields = _event_fields(actor, now, to_status=to_status, kind=kind, from_status=from_status, note=note)
    return {"application_id": application_id, **fields}


def _event_fields(
    actor: Actor,
    now: datetime,
    *,
    to_status: str,
    kind: str = "status",
    from_status: str | None = None,
    note: str = "",
) -> dict[str, Any]:
    """What a row of an application's history says, whichever application it is of."""
    return {
        "at": now,
        "actor_id": actor.id,
        "kind": kind,
        "from_status": from_status,
        "to_status": to_status,
        "note": note,
    }


def _paper_applicant(db: Session, applicant_id: int) -> User:
    user = db.get(User, applicant_id)
    if user is None or user.role != Role.applicant or not user.active:
        raise ValidationFailed(
            f"User {applicant_id} is not an active applicant account.", loc=["body", "applicant_id"]
        )
    return user


def _check_paper_on_time(session: SessionAdmission, postmarked_on: date, *, today: date) -> None:
    if postmarked_on > today:
        raise ValidationFailed(
            f"A postmark cannot be later than today ({today.isoformat()}).", loc=["body", "postmarked_on"]
        )
    if session.status not in PAPER_STATUSES:
        raise SessionNotOpen(f"This session is {session.status}; it takes no applications.")
    if postmarked_on > session.application_deadline:
        raise DeadlinePassed(
            f"Postmarked {postmarked_on.isoformat()}, after the deadline "
            f"{session.application_deadline.isoformat()}."
        )


def _claimable_discount(db: Session, code: str, *, session_id: int, today: date) -> Discount:
    """The active discount `code` names for this session today; otherwise UnknownDiscount."""
    discount = db.exec(
        select(Discount).where(
            Discount.code == code.strip().upper(),
            col(Discount.active).is_(True),
            or_(col(Discount.session_id).is_(None), Discount.session_id == session_id),
            or_(col(Discount.valid_from).is_(None), col(Discount.valid_from) <= today),
            or_(col(Discount.valid_until).is_(None), col(Discount.valid_until) >= today),
        )
    ).first()
    if discount is None:
        raise UnknownDiscount(f"No active discount {code!r} applies to this session.")
    return discount


def _set_discount(application: Application, discount: Discount | None) -> None:
    for name, value in _discount_fields(discount).items():
        setattr(application, name, value)


def _discount_fields(discount: Discount | None) -> dict[str, Any]:
    """What an application records of the discount it claims, or of claiming none."""
    return {
        "discount_id": discount.id if discount else None,
        "discount_code": discount.code if discount else None,
        "discount_status": DiscountStatus.claimed if discount else DiscountStatus.none,
    }


# Changing


def update_application(
    db: Session, actor: Actor, application: Application, data: ApplicationUpdate, *, now: datetime
) -> Application:
    """The owner's changes, only while the application is submitted."""
    _lock(db, application)
    if application.status != ApplicationStatus.submitted:
        raise InvalidTransition(f"An application that is {application.status} can no longer be changed.")
    changes = data.model_dump(exclude_unset=True)
    billing = changes.pop("billing", None) or {}
    for name, value in billing.items():
        setattr(application, f"billing_{name}", value)
    if "discount_code" in changes:
        code = changes.pop("discount_code")
        discount = (
            _claimable_discount(db, code, session_id=application.session_id, today=paris_today(now))
            if code is not None
            else None
        )
        if (discount.id if discount else None) != application.discount_id:
            before = application.discount_status
            _set_discount(application, discount)
            _record(
                db,
                application,
                actor,
                now=now,
                kind="discount",
                from_status=before,
                to_status=application.discount_status,
            )
    for name, value in changes.items():
        setattr(application, name, value)
    application.updated_at = now
    db.add(application)
    db.flush()
    return application


def decide_application(
    db: Session, actor: Actor, application: Application, decision: Decision, note: str, *, now: datetime
) -> Application:
    """Accept, reject or waitlist; accepting never goes past the session's capacity, and never takes
    anyone from the waiting list into a session that has started."""
    session = _lock(db, application)
    _require_not_cancelled(session)
    if application.status not in DECISIONS[decision]:
        raise InvalidTransition(f"An application that is {application.status} cannot be {decision}.")
    before = ApplicationStatus(application.status)
    promoted = decision == Decision.accepted and before == ApplicationStatus.waitlisted
    if promoted and _has_started(session, now=now):
        raise InvalidTransition("This session has started: nobody is promoted from its waiting list now.")
    if decision == Decision.accepted:
        _take_seat(db, session)
    if before == ApplicationStatus.waitlisted:
        _leave_waiting_list(db, application)
    if decision == Decision.waitlisted:
        application.waitlist_position = _next_waitlist_position(db, session_id=application.session_id)
    _change_status(db, application, actor, ApplicationStatus(decision), note=note, now=now)
    application.decided_at = now
    application.decision_note = note
    db.add(application)
    db.flush()
    return application


def withdraw_application(
    db: Session, actor: Actor, application: Application, *, now: datetime
) -> Application:
    """Withdraw until the session starts; a seat given back goes at once to the first of the waiting
    list."""
    session = _lock(db, application)
    _require_not_cancelled(session)
    if application.status not in WITHDRAWABLE:
        raise InvalidTransition(f"An application that is {application.status} cannot be withdrawn.")
    if _has_started(session, now=now):
        # A trainee who stops coming shows in the attendance record, not as a withdrawal.
        raise InvalidTransition(
            f"This session has started (first day {session.start_date.isoformat()}); an application "
            "can no longer be withdrawn."
        )
    before = ApplicationStatus(application.status)
    if before == ApplicationStatus.waitlisted:
        _leave_waiting_list(db, application)
    _change_status(db, application, actor, ApplicationStatus.withdrawn, note="", now=now)
    db.add(application)
    db.flush()
    if before == ApplicationStatus.accepted:
        session.accepted_count -= 1
        db.add(session)
        bump_catalogue_version(db)
        _promote_first_waitlisted(db, actor, session, freed_by=application, now=now)
    return application


def decide_discount(
    db: Session, actor: Actor, application: Application, *, approved: bool, note: str, now: datetime
) -> Application:
    """Approve or refuse a claimed discount; a decided one may be decided again."""
    _lock(db, application)
    if application.discount_status not in DECIDED_DISCOUNTS:
        raise InvalidTransition("This application claims no discount.")
    before = application.discount_status
    application.discount_status = DiscountStatus.approved if approved else DiscountStatus.refused
    application.updated_at = now
    _record(
        db,
        application,
        actor,
        now=now,
        kind="discount",
        from_status=before,
        to_status=application.discount_status,
        note=note,
    )
    db.add(application)
    db.flush()
    return application


def _lock(db: Session, application: Application) -> TrainingSession:
    """Lock the session row, then re-read the application under that lock (it may have changed
    while this transaction waited)."""
    session = find_session(db, str(application.session_id), include_private=True, for_update=True)
    db.refresh(application, with_for_update=True)
    return session


def _require_not_cancelled(session: TrainingSession) -> None:
    """A cancelled session takes no decision and no withdrawal."""
    if session.status == SessionStatus.cancelled:
        raise SessionNotOpen("This session is cancelled; its applications no longer change.")


def _has_started(session: TrainingSession, *, now: datetime) -> bool:
    """From its first day (Europe/Paris), or once completed: completing has no date condition."""
    return session.status == SessionStatus.completed or paris_today(now) >= session.start_date


def _take_seat(db: Session, session: TrainingSession) -> None:
    if session.accepted_count >= session.capacity:
        raise SessionFull(f"All {session.capacity} seats of this session are taken.")
    session.accepted_count += 1
    db.add(session)
    bump_catalogue_version(db)


def _next_waitlist_position(db: Session, *, session_id: int) -> int:
    last = db.exec(
        select(func.max(Application.waitlist_position)).where(Application.session_id == session_id)
    ).one()
    return (last or 0) + 1


def _leave_waiting_list(db: Session, application: Application) -> None:
    """Take the application off the list; those behind it move up one place."""
    position = application.waitlist_position
    application.waitlist_position = None
    db.add(application)
    db.flush()
    if position is not None:
        behind = col(Application.waitlist_position) > position
        same_list = col(Application.session_id) == application.session_id
        # Those behind move up one place; their lists' versions are bumped by the database (0012).
        db.execute(
            update(Application)
            .where(same_list, behind)
            .values(waitlist_position=col(Application.waitlist_position) - 1)
        )


def _promote_first_waitlisted(
    db: Session, actor: Actor, session: TrainingSession, *, freed_by: Application, now: datetime
) -> None:
    first = db.exec(
        select(Application)
        .where(
            Application.session_id == session.id,
            Application.status == ApplicationStatus.waitlisted,
            Application.waitlist_position == 1,
        )
        .with_for_update()
    ).first()
    if first is None or session.accepted_count >= session.capacity:
        return
    note = f"Promoted from the waiting list: application {freed_by.id} was withdrawn."
    _take_seat(db, session)
    _leave_waiting_list(db, first)
    _change_status(db, first, actor, ApplicationStatus.accepted, note=note, now=now)
    first.decided_at = now
    first.decision_note = note
    db.add(first)
    db.flush()


def _change_status(
    db: Session, application: Application, actor: Actor, to: ApplicationStatus, *, note: str, now: datetime
) -> None:
    before = application.status
    application.status = to
    application.updated_at = now
    _record(db, application, actor, now=now, from_status=before, to_status=to, note=note)


def _record(
    db: Session,
    application: Application,
    actor: Actor,
    *,
    now: datetime,
    from_status: str | None,
    to_status: str,
    kind: str = "status",
    note: str = "",
) -> None:
    assert application.id is not None
    row = _event_row(
        application.id, actor, now, to_status=to_status, kind=kind, from_status=from_status, note=note
    )
    db.add(ApplicationEvent(**row))
