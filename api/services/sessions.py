"""Training sessions: the catalogue, its states, and who teaches."""

import functools
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from slugify import slugify
from sqlalchemy import bindparam, func
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from api.errors import (
    CapacityBelowAccepted,
    InvalidTransition,
    NotFound,
    SlugTaken,
    ValidationFailed,
)
from api.services.auth import Actor
from api.services.catalogue import bump_catalogue_version
from models.base import MAX_INT
from models.training_session import (
    MAX_SESSION_DAYS,
    PUBLIC_STATUSES,
    SessionStatus,
    SessionTrainer,
    TrainerRef,
    TrainingSession,
    TrainingSessionCreate,
    TrainingSessionPublic,
    TrainingSessionUpdate,
)
from models.user import Role, User

# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[SessionStatus], SessionStatus]] = {
    "publish": (frozenset({SessionStatus.draft}), SessionStatus.published),
    "close": (frozenset({SessionStatus.published}), SessionStatus.closed),
    "reopen": (frozenset({SessionStatus.closed}), SessionStatus.published),
    "complete": (frozenset({SessionStatus.closed}), SessionStatus.completed),
    "cancel": (frozenset({SessionStatus.published, SessionStatus.closed}), SessionStatus.cancelled),
}


def fold_for_search(text: str) -> str:
    """Lower case without accents, so that "numerique" finds "Numérique" on every database."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _same_city(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip()).casefold()


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class SessionFilters:
    status: SessionStatus | None = None
    starts_by: date | None = None
    ends_from: date | None = None
    city: str | None = None
    q: str | None = None
    open_only: bool = False


def _visible(query: Any, *, include_private: bool) -> Any:
    """`query` kept to the sessions the caller may see: the public states, unless `include_private`
    (the secretariat, which sees drafts and cancelled sessions too)."""
    if include_private:
        return query
    return query.where(col(TrainingSession.status).in_([s.value for s in PUBLIC_STATUSES]))


def _cities_named(db: Session, city: str) -> list[str]:
    """The stored spellings of `city`, whatever their case: SQLite's lower() knows only ASCII."""
    wanted = _same_city(city)
    stored = db.exec(select(TrainingSession.city).distinct()).all()
    return [name for name in stored if _same_city(name) == wanted]


def _filtered(query: Any, filters: SessionFilters, *, today: date, cities: list[str] | None) -> Any:
    if filters.status is not None:
        query = query.where(TrainingSession.status == filters.status)
    if filters.ends_from is not None:
        query = query.where(TrainingSession.end_date >= filters.ends_from)
    if filters.starts_by is not None:
        query = query.where(TrainingSession.start_date <= filters.starts_by)
    if cities is not None:
        query = query.where(col(TrainingSession.city).in_(cities))
    if filters.q:
        needle = f"%{_like_literal(fold_for_search(filters.q))}%"
        query = query.where(col(TrainingSession.search_text).like(needle, escape="\\"))
    if filters.open_only:
        query = query.where(
            TrainingSession.status == SessionStatus.published,
            TrainingSession.application_deadline >= today,
        )
    return query


def list_sessions(
    db: Session,
    filters: SessionFilters,
    *,
    include_private: bool,
    today: date,
    limit: int | None,
    offset: int,
) -> tuple[list[TrainingSession], int]:
    """One page of the catalogue (every session when `limit` is None), trainers loaded in one more
    query, and the total."""
    cities = _cities_named(db, filters.city) if filters.city else None
    query = _filtered(
        _visible(select(TrainingSession), include_private=include_private),
        filters,
        today=today,
        cities=cities,
    )
    count_query = _filtered(
        _visible(select(func.count()).select_from(TrainingSession), include_private=include_private),
        filters,
        today=today,
        cities=cities,
    )
    items = db.exec(
        query.options(selectinload(TrainingSession.trainers))  # type: ignore[arg-type]
        .order_by(col(TrainingSession.start_date), col(TrainingSession.id))
        .limit(limit)
        .offset(offset)
    ).all()
    return cast(list[TrainingSession], list(items)), db.exec(count_query).one()


def find_session(
    db: Session,
    id_or_slug: str,
    *,
    include_private: bool,
    for_update: bool = False,
    with_trainers: bool = True,
) -> TrainingSession:
    """A session by id or slug, as the caller may see it; otherwise NotFound. `with_trainers` loads
    its trainers at once (one more query), as its representation shows them."""
    ref = _session_ref(id_or_slug)
    query = _session_by_ref(
        by_id=isinstance(ref, int),
        include_private=include_private,
        for_update=for_update,
        with_trainers=with_trainers,
    )
    session = db.exec(query, params={"ref": ref}).first()
    if session is None:
        raise NotFound("No training session with this id or slug.")
    return session


@dataclass(frozen=True)
class SessionAdmission:
    """What deciding whether a session takes an application needs, and no more."""

    id: int
    status: SessionStatus
    application_deadline: date


def find_session_admission(db: Session, id_or_slug: str, *, include_private: bool) -> SessionAdmission:
    """The admission state of a session the caller may see, as `find_session` sees it; otherwise
    NotFound. Three columns, not the whole row: a submission reads nothing else of the session."""
    ref = _session_ref(id_or_slug)
    query = _admission_by_ref(by_id=isinstance(ref, int), include_private=include_private)
    # On the connection, as Core: the ORM's execution of a column query was a third of its cost.
    row = db.connection().execute(query, {"ref": ref}).first()
    if row is None:
        raise NotFound("No training session with this id or slug.")
    return SessionAdmission(
        id=row.id, status=SessionStatus(row.status), application_deadline=row.application_deadline
    )


def _session_ref(id_or_slug: str) -> int | str:
    if not id_or_slug.isdigit():
        return id_or_slug
    if int(id_or_slug) > MAX_INT:
        raise NotFound("No training session with this id or slug.")
    return int(id_or_slug)


@functools.cache
def _session_by_ref(*, by_id: bool, include_private: bool, for_update: bool, with_trainers: bool) -> Any:
    """The query of `find_session`, built once per shape: building it took a third of the time of
    a submission's reads."""
    query = select(TrainingSession)
    if with_trainers:
        query = query.options(selectinload(TrainingSession.trainers))  # type: ignore[arg-type]
    key = col(TrainingSession.id) if by_id else col(TrainingSession.slug)
    query = _visible(query.where(key == bindparam("ref")), include_private=include_private)
    if for_update:
        query = query.with_for_update(of=TrainingSession)
    return query


@functools.cache
def _admission_by_ref(*, by_id: bool, include_private: bool) -> Any:
    """The query of `find_session_admission`, built once per shape, hiding what `_visible` hides."""
    query = select(
        col(TrainingSession.id), col(TrainingSession.status), col(TrainingSession.application_deadline)
    )
    key = col(TrainingSession.id) if by_id else col(TrainingSession.slug)
    return _visible(query.where(key == bindparam("ref")), include_private=include_private)


def to_public(session: TrainingSession, *, today: date) -> TrainingSessionPublic:
    """The representation every reader gets, with seats and openness computed."""
    assert session.id is not None
    return TrainingSessionPublic(
        **session.model_dump(exclude={"accepted_count", "search_text", "status"}),
        status=SessionStatus(session.status),
        seats_remaining=max(session.capacity - session.accepted_count, 0),
        open_for_applications=session.status == SessionStatus.published
        and today <= session.application_deadline,
        trainers=[
            TrainerRef(id=t.id, full_name=t.full_name)
            for t in sorted(session.trainers, key=lambda t: t.id or 0)
            if t.id is not None
        ],
    )


def _slug_in_use(db: Session, slug: str, *, other_than: int | None = None) -> bool:
    query = select(TrainingSession.id).where(TrainingSession.slug == slug)
    if other_than is not None:
        query = query.where(TrainingSession.id != other_than)
    return db.exec(query).first() is not None


def _free_slug(db: Session, title: str) -> str:
    base = slugify(title, max_length=100, word_boundary=True) or "session"
    if base.isdigit():
        base = f"session-{base}"
    slug, n = base, 2
    while _slug_in_use(db, slug):
        slug, n = f"{base}-{n}", n + 1
    return slug


def _check_consistency(session: TrainingSession) -> None:
    if session.end_date < session.start_date:
        raise ValidationFailed("end_date must be on or after start_date.", loc=["body", "end_date"])
    if (session.end_date - session.start_date).days + 1 > MAX_SESSION_DAYS:
        raise ValidationFailed(
            f"A session spans at most {MAX_SESSION_DAYS} calendar days from start_date to end_date.",
            loc=["body", "end_date"],
        )
    if session.application_deadline > session.start_date:
        raise ValidationFailed(
            "application_deadline must be on or before start_date.", loc=["body", "application_deadline"]
        )
    if session.daily_end_time <= session.daily_start_time:
        raise ValidationFailed(
            "daily_end_time must be after daily_start_time.", loc=["body", "daily_end_time"]
        )
    span = (session.end_date - session.start_date).days + 1
    if session.days > span:
        raise ValidationFailed(
            f"days ({session.days}) cannot exceed the {span} calendar days from start to end.",
            loc=["body", "days"],
        )


def _refresh_search_text(session: TrainingSession) -> None:
    session.search_text = "\n".join(
        fold_for_search(part) for part in (session.title, session.subtitle, session.summary)
    )


def create_session(db: Session, data: TrainingSessionCreate, *, now: datetime) -> TrainingSession:
    """A new draft session."""
    # Bumped first: the version row's lock makes concurrent slug checks wait for each other.
    bump_catalogue_version(db)
    fields = data.model_dump(exclude={"slug", "days"})
    if data.slug is not None and _slug_in_use(db, data.slug):
        raise SlugTaken(f"The slug {data.slug!r} is already used.")
    session = TrainingSession(
        **fields,
        slug=data.slug or _free_slug(db, data.title),
        days=data.days or max((data.end_date - data.start_date).days + 1, 1),
        status=SessionStatus.draft,
        created_at=now,
        updated_at=now,
    )
    _check_consistency(session)
    _refresh_search_text(session)
    db.add(session)
    db.flush()
    db.refresh(session, ["trainers"])
    return session


def update_session(
    db: Session, session: TrainingSession, data: TrainingSessionUpdate, *, now: datetime
) -> TrainingSession:
    """Change some fields; capacity may not drop below the trainees already accepted."""
    changes = data.model_dump(exclude_unset=True)
    # Bumped first: the version row's lock makes concurrent slug checks wait for each other.
    bump_catalogue_version(db)
    if "slug" in changes and _slug_in_use(db, changes["slug"], other_than=session.id):
        raise SlugTaken(f"The slug {changes['slug']!r} is already used.")
    if "capacity" in changes and changes["capacity"] < session.accepted_count:
        raise CapacityBelowAccepted(
            f"{session.accepted_count} trainees are already accepted; capacity cannot be lower."
        )
    for name, value in changes.items():
        setattr(session, name, value)
    if "days" not in changes and {"start_date", "end_date"} & changes.keys():
        # Shorter dates shorten the teaching days with them, unless days is given.
        session.days = min(session.days, (session.end_date - session.start_date).days + 1)
    _check_consistency(session)
    _refresh_search_text(session)
    session.updated_at = now
    db.add(session)
    db.flush()
    return session


def delete_session(db: Session, session: TrainingSession) -> None:
    """Only a draft can be deleted; anything else has been public and is cancelled instead."""
    if session.status != SessionStatus.draft:
        raise InvalidTransition(f"Only a draft can be deleted; this session is {session.status}.")
    db.delete(session)
    db.flush()
    bump_catalogue_version(db)


def change_status(db: Session, session: TrainingSession, action: str, *, now: datetime) -> TrainingSession:
    """Apply a state transition: publish, close, reopen, complete or cancel."""
    allowed_from, target = TRANSITIONS[action]
    if session.status not in allowed_from:
        raise InvalidTransition(f"Cannot {action} a session that is {session.status}.")
    session.status = target
    session.updated_at = now
    db.add(session)
    db.flush()
    bump_catalogue_version(db)
    return session


def assign_trainers(
    db: Session, session: TrainingSession, trainer_ids: list[int], *, now: datetime
) -> TrainingSession:
    """Replace the session's trainers; every id must be an active trainer."""
    wanted = sorted(set(trainer_ids))
    trainers = list(db.exec(select(User).where(col(User.id).in_(wanted))).all()) if wanted else []
    found = {u.id: u for u in trainers}
    for index, trainer_id in enumerate(trainer_ids):
        user = found.get(trainer_id)
        if user is None or user.role != Role.trainer or not user.active:
            raise ValidationFailed(
                f"User {trainer_id} is not an active trainer.", loc=["body", "trainer_ids", index]
            )
    assert session.id is not None
    for link in db.exec(select(SessionTrainer).where(SessionTrainer.session_id == session.id)).all():
        db.delete(link)
    db.flush()
    for trainer_id in wanted:
        db.add(SessionTrainer(session_id=session.id, user_id=trainer_id))
    session.updated_at = now
    db.add(session)
    db.flush()
    db.refresh(session, ["trainers"])
    bump_catalogue_version(db)
    return session


def find_taught_session(db: Session, session_id: int, *, actor: Actor) -> TrainingSession:
    """A session whose trainees the actor may follow: the secretariat, or a trainer assigned to it;
    NotFound for anyone else (applicants, other trainers), so nothing leaks."""
    session = db.get(TrainingSession, session_id)
    if session is None:
        raise NotFound("No training session with this id.")
    if actor.is_secretariat:
        return session
    if actor.role == Role.trainer and db.get(SessionTrainer, (session_id, actor.id)) is not None:
        return session
    raise NotFound("No training session with this id.")
