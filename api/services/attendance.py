"""Attendance: the roster of accepted trainees, presence by half-day, the hours it is worth, and
what the two documents made from it print (the attendance sheet and the certificate of attendance,
drawn in api.documents)."""

from collections import defaultdict
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import cast

from sqlalchemy import ColumnElement, and_, delete, func, or_
from sqlmodel import Session, col, select

from api.clock import PARIS, paris_today
from api.documents.attendance_sheet import SheetContent, SheetTrainee
from api.documents.layout import Organisation
from api.documents.realisation import RealisationContent
from api.errors import NotEligible, ValidationFailed
from api.services.auth import Actor
from api.services.sessions import fold_for_search
from models.application import Application, ApplicationStatus
from models.attendance import (
    AttendanceLine,
    AttendanceSheet,
    HalfDay,
    HalfDayAttendance,
    HalfDayRecord,
    HalfDayRef,
    Roster,
    RosterEntry,
    TraineeRef,
)
from models.training_session import SessionAsIssued, TrainingSession
from models.user import User

CENTI = Decimal("0.01")
# When each half-day begins, Europe/Paris: the morning with its day, the afternoon at noon.
HALF_DAY_BEGINS = {HalfDay.am: time(0, 0), HalfDay.pm: time(12, 0)}


def half_day_begun(day: date, half_day: HalfDay, *, now: datetime) -> bool:
    """Whether the half-day has begun at `now`: its morning from midnight, its afternoon from noon,
    Europe/Paris. Only a half-day that has begun can be attended."""
    return now.astimezone(PARIS) >= datetime.combine(day, HALF_DAY_BEGINS[half_day], tzinfo=PARIS)


def _begun_by(now: datetime) -> ColumnElement[bool]:
    """The attendance rows of half-days that have begun at `now` (see `half_day_begun`)."""
    today = paris_today(now)
    begun_today = [half.value for half in HalfDay if half_day_begun(today, half, now=now)]
    return or_(
        col(HalfDayAttendance.day) < today,
        and_(col(HalfDayAttendance.day) == today, col(HalfDayAttendance.half_day).in_(begun_today)),
    )


def hours_for(session: TrainingSession | SessionAsIssued, half_days_present: int) -> Decimal:
    """The session's hours spread evenly over its half-days, hours / (days × 2) for each half-day
    present, rounded half up to 2 places and never more than the session's hours."""
    worth = Decimal(session.hours) * half_days_present / (Decimal(session.days) * 2)
    return min(worth, Decimal(session.hours)).quantize(CENTI, rounding=ROUND_HALF_UP)


def _present_count(db: Session, application: Application, session: TrainingSession, *, now: datetime) -> int:
    return db.exec(
        select(func.count())
        .select_from(HalfDayAttendance)
        .where(
            HalfDayAttendance.application_id == application.id,
            HalfDayAttendance.session_id == session.id,
            col(HalfDayAttendance.day) >= session.start_date,
            col(HalfDayAttendance.day) <= session.end_date,
            _begun_by(now),
        )
    ).one()


def hours_attended(db: Session, application: Application, *, now: datetime) -> Decimal:
    """The hours an application's trainee attended so far (see `hours_for`); half-days left outside
    the session's dates by a later change of them, or not begun at `now`, do not count."""
    session = db.get(TrainingSession, application.session_id)
    assert session is not None  # foreign key
    return hours_for(session, _present_count(db, application, session, now=now))


def _accepted(db: Session, session: TrainingSession) -> list[tuple[Application, User]]:
    """The accepted applications of the session with their trainees, by name then id."""
    rows = db.exec(
        select(Application, User)
        .join(User, col(User.id) == col(Application.applicant_id))
        .where(Application.session_id == session.id, Application.status == ApplicationStatus.accepted)
    ).all()
    return sorted(rows, key=lambda row: (fold_for_search(row[1].full_name), row[0].id or 0))


def _trainee(user: User) -> TraineeRef:
    return TraineeRef(id=cast(int, user.id), full_name=user.full_name)


def roster(db: Session, session: TrainingSession) -> Roster:
    """The accepted trainees of the session, what the trainers may know of them."""
    return Roster(
        items=[
            RosterEntry(
                application_id=cast(int, application.id),
                trainee=_trainee(user),
                organisation=application.organisation,
                job_title=application.job_title,
            )
            for application, user in _accepted(db, session)
        ]
    )


def record_half_day(
    db: Session, session: TrainingSession, data: HalfDayRecord, *, actor: Actor, now: datetime
) -> HalfDayRecord:
    """Set who was present at one half-day, replacing what was recorded for it before; only dates of
    the session that have begun and accepted applications of it are valid; a repeated id counts
    once."""
    if not session.start_date <= data.date <= session.end_date:
        raise ValidationFailed(
            f"The session runs from {session.start_date} to {session.end_date}.", loc=["body", "date"]
        )
    if not half_day_begun(data.date, data.half_day, now=now):
        if data.date > paris_today(now):
            raise ValidationFailed(f"{data.date} has not begun yet (Europe/Paris).", loc=["body", "date"])
        raise ValidationFailed(
            f"The afternoon of {data.date} begins at 12:00 (Europe/Paris).", loc=["body", "half_day"]
        )
    # Recordings of one session wait for each other: the replacement is never interleaved.
    db.exec(select(TrainingSession.id).where(TrainingSession.id == session.id).with_for_update())
    present = sorted(set(data.present))
    accepted = set(
        db.exec(
            select(Application.id).where(
                Application.session_id == session.id,
                Application.status == ApplicationStatus.accepted,
                col(Application.id).in_(present),
            )
        ).all()
    )
    for index, application_id in enumerate(data.present):
        if application_id not in accepted:
            raise ValidationFailed(
                f"Application {application_id} is not an accepted application of this session.",
                loc=["body", "present", index],
            )
    db.execute(
        delete(HalfDayAttendance).where(
            col(HalfDayAttendance.session_id) == session.id,
            col(HalfDayAttendance.day) == data.date,
            col(HalfDayAttendance.half_day) == data.half_day.value,
        )
    )
    db.add_all(
        HalfDayAttendance(
            session_id=cast(int, session.id),
            application_id=application_id,
            day=data.date,
            half_day=data.half_day.value,
            recorded_by_id=actor.id,
            recorded_at=now,
        )
        for application_id in present
    )
    db.flush()
    return HalfDayRecord(date=data.date, half_day=data.half_day, present=present)


def _presences(
    db: Session, session: TrainingSession, *, now: datetime
) -> dict[int, set[tuple[date, HalfDay]]]:
    rows = db.exec(
        select(HalfDayAttendance).where(
            HalfDayAttendance.session_id == session.id,
            col(HalfDayAttendance.day) >= session.start_date,
            col(HalfDayAttendance.day) <= session.end_date,
            _begun_by(now),
        )
    ).all()
    presences: dict[int, set[tuple[date, HalfDay]]] = defaultdict(set)
    for row in rows:
        presences[row.application_id].add((row.day, HalfDay(row.half_day)))
    return presences


def _order(half_day: tuple[date, HalfDay]) -> tuple[date, int]:
    return half_day[0], 0 if half_day[1] == HalfDay.am else 1


def attendance_sheet(db: Session, session: TrainingSession, *, now: datetime) -> AttendanceSheet:
    """Every accepted trainee with its half-days present and its hours attended so far."""
    presences = _presences(db, session, now=now)
    items = []
    for application, user in _accepted(db, session):
        present = sorted(presences.get(cast(int, application.id), set()), key=_order)
        items.append(
            AttendanceLine(
                application_id=cast(int, application.id),
                trainee=_trainee(user),
                half_days=[HalfDayRef(date=day, half_day=half) for day, half in present],
                hours_attended=str(hours_for(session, len(present))),
            )
        )
    return AttendanceSheet(items=items)


def _sheet_trainee(user: User, present: set[tuple[date, HalfDay]], session: TrainingSession) -> SheetTrainee:
    return SheetTrainee(user.full_name, tuple(sorted(present, key=_order)), hours_for(session, len(present)))


def sheet_content(
    db: Session, session: TrainingSession, *, organisation: Organisation, now: datetime
) -> SheetContent:
    """What the sheet prints at `now`: the session, its accepted trainees and the half-days begun
    that they attended, its trainers, the day of edition."""
    presences = _presences(db, session, now=now)
    return SheetContent(
        session_id=cast(int, session.id),
        session=SessionAsIssued.model_validate(session, from_attributes=True),
        half_day_hours=hours_for(session, 1),
        trainers=tuple(sorted((trainer.full_name for trainer in session.trainers), key=fold_for_search)),
        trainees=tuple(
            _sheet_trainee(user, presences[cast(int, application.id)], session)
            for application, user in _accepted(db, session)
        ),
        edited_on=paris_today(now),
        organisation=organisation,
    )


def trainee_position(application: Application) -> str:
    """The trainee's job title and organisation, as the documents about it print them."""
    return ", ".join(part for part in (application.job_title, application.organisation) if part)


def realisation_content(
    db: Session, application: Application, *, organisation: Organisation, now: datetime
) -> RealisationContent:
    """What the certificate of attendance ("certificat de réalisation") of an accepted application
    prints once its session has started: the hours attended so far."""
    session = db.get(TrainingSession, application.session_id)
    trainee = db.get(User, application.applicant_id)
    assert session is not None and trainee is not None  # foreign keys
    if application.status != ApplicationStatus.accepted:
        raise NotEligible(f"Only an accepted application has one; this one is {application.status}.")
    today = paris_today(now)
    if today < session.start_date:
        raise NotEligible(f"The session starts on {session.start_date}; nothing has been attended yet.")
    return RealisationContent(
        application_id=cast(int, application.id),
        trainee_name=trainee.full_name,
        trainee_position=trainee_position(application),
        session=SessionAsIssued.model_validate(session, from_attributes=True),
        hours_attended=hours_for(session, _present_count(db, application, session, now=now)),
        made_on=today,
        organisation=organisation,
    )
