"""Attendance: the roster of accepted trainees, presence by half-day, the hours it is worth, and
the two documents made from it (the attendance sheet and the certificate of attendance)."""

import hashlib
import logging
import threading
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import cast

from sqlalchemy import ColumnElement, and_, delete, func, or_
from sqlmodel import Session, col, select

from api.clock import PARIS, paris_today
from api.documents.layout import (
    Document,
    Organisation,
    french_date,
    french_date_range,
    french_hours,
    french_time,
)
from api.edge.http_cache import Rendered, RenderedCache, strong_etag
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

logger = logging.getLogger("ateliers.attendance")

CENTI = Decimal("0.01")
HALF_DAY_LABELS = {HalfDay.am: "matin", HalfDay.pm: "après-\nmidi"}
# Half-day columns per table of the attendance sheet: six days fit a landscape A4 legibly.
HALF_DAYS_PER_TABLE = 12
PDF = "application/pdf"
# Part of every sheet's digest: bump it when the sheet's layout changes, so none is served stale.
SHEET_LAYOUT = 1
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


def _half_days(start: date, end: date) -> list[tuple[date, HalfDay]]:
    return [
        (start + timedelta(days=n), half)
        for n in range((end - start).days + 1)
        for half in (HalfDay.am, HalfDay.pm)
    ]


def _day_heading(day: date) -> str:
    """ "mercredi\n10 février": the weekday over the date, so every day's heading is two lines."""
    weekday, rest = french_date(day, weekday=True).rsplit(" ", 1)[0].split(" ", 1)
    return f"{weekday}\n{rest}"


def _place(session: TrainingSession | SessionAsIssued) -> str:
    """Venue, address and city, the city left out when the address already names it."""
    city = "" if session.city.casefold() in session.address.casefold() else session.city
    return ", ".join(dict.fromkeys(part for part in (session.venue, session.address, city) if part))


def _chunks(half_days: Sequence[tuple[date, HalfDay]]) -> list[Sequence[tuple[date, HalfDay]]]:
    return [half_days[n : n + HALF_DAYS_PER_TABLE] for n in range(0, len(half_days), HALF_DAYS_PER_TABLE)]


@dataclass(frozen=True)
class SheetTrainee:
    full_name: str
    present: tuple[tuple[date, HalfDay], ...]  # in order, so that the digest never depends on hashing


@dataclass(frozen=True)
class SheetContent:
    """Everything the attendance sheet prints, read from the database in one go."""

    session_id: int
    session: SessionAsIssued
    trainers: tuple[str, ...]
    trainees: tuple[SheetTrainee, ...]
    edited_on: date
    organisation: Organisation

    @property
    def digest(self) -> str:
        """Names the rendered sheet: equal exactly when every printed value is."""
        return hashlib.sha256(repr((SHEET_LAYOUT, self)).encode()).hexdigest()


def sheet_content(
    db: Session, session: TrainingSession, *, organisation: Organisation, now: datetime
) -> SheetContent:
    """What the sheet prints at `now`: the session, its accepted trainees and the half-days begun
    that they attended, its trainers, the day of edition."""
    presences = _presences(db, session, now=now)
    return SheetContent(
        session_id=cast(int, session.id),
        session=SessionAsIssued.model_validate(session, from_attributes=True),
        trainers=tuple(sorted((trainer.full_name for trainer in session.trainers), key=fold_for_search)),
        trainees=tuple(
            SheetTrainee(user.full_name, tuple(sorted(presences[cast(int, application.id)], key=_order)))
            for application, user in _accepted(db, session)
        ),
        edited_on=paris_today(now),
        organisation=organisation,
    )


def render_attendance_pdf(content: SheetContent, *, now: datetime) -> bytes:
    """The attendance sheet funders ask for: the trainees by half-day, their hours, the trainers'
    signatures; landscape A4, several pages with the table's heading repeated when needed."""
    session = content.session
    pdf = Document(
        content.organisation,
        title=f"Feuille d’émargement — {session.title}",
        reference=f"Feuille d’émargement · session {content.session_id}",
        created=now,
        orientation="landscape",
    )
    pdf.title_block(
        "FEUILLE D’ÉMARGEMENT",
        [("Session n°", str(content.session_id)), ("Éditée le", french_date(content.edited_on))],
    )
    pdf.section("Action de formation professionnelle continue")
    pdf.paragraph(session.title, bold=True, size=10)
    pdf.paragraph(
        f"{french_date_range(session.start_date, session.end_date, weekday=True).capitalize()} · "
        f"{session.days} jours, soit {session.hours} heures de formation · "
        f"{french_time(session.daily_start_time)} – {french_time(session.daily_end_time)} · "
        f"Lieu : {_place(session)}"
    )
    pdf.paragraph(
        f"✓ : présent·e. Chaque demi-journée de présence vaut {french_hours(hours_for(session, 1))} h "
        f"({session.hours} h ÷ {session.days * 2} demi-journées).",
        size=8,
    )
    pdf.ln(2)
    for chunk in _chunks(_half_days(session.start_date, session.end_date)):
        days = list(dict.fromkeys(day for day, _ in chunk))
        day_heads = [(_day_heading(day), sum(1 for d, _ in chunk if d == day)) for day in days]
        rows = []
        for number, trainee in enumerate(content.trainees, start=1):
            present = set(trainee.present)
            rows.append(
                [str(number), trainee.full_name]
                + ["✓" if half_day in present else "" for half_day in chunk]
                + [french_hours(hours_for(session, len(present)), fixed=True)]
            )
        pdf.attendance_grid(
            day_heads,
            [HALF_DAY_LABELS[half] for _, half in chunk],
            rows,
            lead=("N°", "Stagiaire"),
            total="Total (h)",
        )
        pdf.ln(3)
    if not content.trainees:
        pdf.paragraph("Aucun stagiaire admis à cette session.")
    pdf.paragraph(
        "Les formateur·rice·s soussigné·e·s attestent l’exactitude des présences indiquées ci-dessus.",
        size=8.5,
    )
    pdf.ln(2)
    pdf.signature_row(
        [f"Formateur·rice : {name}" for name in content.trainers] or ["Formateur·rice :"],
        ["Signature :"],
    )
    document = pdf.render()
    logger.info("Attendance sheet of session %s rendered (%s)", content.session_id, content.digest[:16])
    return document


class AttendanceSheetRenders:
    """Attendance sheets rendered once per digest of what they print, kept in the process's rendered
    cache; concurrent downloads of one digest wait for the one render rather than each making it."""

    def __init__(self, cache: RenderedCache) -> None:
        self._cache = cache
        self._lock = threading.Lock()
        self._running: dict[str, Future[bytes]] = {}

    def pdf(self, content: SheetContent, *, now: datetime) -> bytes:
        """The sheet of `content`: the one kept, or one rendered now and kept."""
        key = f"attendance-sheet#{content.digest}"
        kept = self._cache.get(key)
        if kept is not None:
            return kept.body
        with self._lock:
            # Looked up again under the lock: a render that ended since is kept, not made twice.
            kept = self._cache.get(key)
            if kept is not None:
                return kept.body
            running = self._running.get(key)
            leading = running is None
            if running is None:
                running = self._running[key] = Future()
        if not leading:
            return running.result()
        try:
            document = render_attendance_pdf(content, now=now)
            self._cache.put(key, Rendered(etag=strong_etag(document), body=document, media_type=PDF))
            running.set_result(document)
            return document
        except BaseException as error:
            running.set_exception(error)
            raise
        finally:
            # Gone only once kept: a download arriving later finds it in the cache instead.
            with self._lock:
                del self._running[key]


def attendance_sheet_pdf(
    db: Session,
    session: TrainingSession,
    *,
    organisation: Organisation,
    now: datetime,
    renders: AttendanceSheetRenders,
) -> bytes:
    """The attendance sheet of the session at `now`, rendered only when what it prints changed: its
    content is read on every download, so no process ever serves a sheet that is no longer true."""
    return renders.pdf(sheet_content(db, session, organisation=organisation, now=now), now=now)


def render_attendance_certificate(
    db: Session, application: Application, *, organisation: Organisation, now: datetime
) -> bytes:
    """The certificate of attendance ("certificat de réalisation") of an accepted application once
    its session has started, stating the hours attended so far."""
    session = db.get(TrainingSession, application.session_id)
    trainee = db.get(User, application.applicant_id)
    assert session is not None and trainee is not None  # foreign keys
    if application.status != ApplicationStatus.accepted:
        raise NotEligible(f"Only an accepted application has one; this one is {application.status}.")
    today = paris_today(now)
    if today < session.start_date:
        raise NotEligible(f"The session starts on {session.start_date}; nothing has been attended yet.")
    attended = hours_for(session, _present_count(db, application, session, now=now))
    pdf = Document(
        organisation,
        title=f"Certificat de réalisation — {trainee.full_name}",
        reference=f"Certificat de réalisation · candidature {application.id}",
        created=now,
    )
    pdf.title_block(
        "CERTIFICAT DE RÉALISATION",
        [("Candidature n°", str(application.id)), ("Date", french_date(today))],
    )
    pdf.ln(4)
    pdf.paragraph(
        f"Je soussigné·e, représentant·e légal·e de l’organisme de formation {organisation.name}, "
        f"{organisation.address}, atteste que :",
        size=10,
        height=5.5,
    )
    pdf.ln(2)
    pdf.paragraph(trainee.full_name, bold=True, size=12, height=6.5)
    employer = ", ".join(part for part in (application.job_title, application.organisation) if part)
    if employer:
        pdf.paragraph(employer, size=10, height=5.5)
    pdf.ln(2)
    pdf.paragraph("a suivi l’action", size=10, height=5.5)
    pdf.paragraph(session.title, bold=True, size=11, height=6)
    pdf.ln(1)
    pdf.section("Nature de l’action")
    pdf.paragraph(
        "Action de formation professionnelle continue, au sens de l’article L6313-1 du Code du travail "
        "(action concourant au développement des compétences : action de formation).",
        size=10,
        height=5.5,
    )
    pdf.section("Session")
    pdf.paragraph(
        f"{french_date_range(session.start_date, session.end_date).capitalize()} · "
        f"durée : {session.days} jours, soit {session.hours} heures · "
        f"{french_time(session.daily_start_time)} – {french_time(session.daily_end_time)}",
        size=10,
        height=5.5,
    )
    pdf.paragraph(f"Lieu : {_place(session)}", size=10, height=5.5)
    pdf.section("Assiduité")
    so_far = "" if today > session.end_date else f" à la date du {french_date(today)}"
    pdf.paragraph(
        f"Durée effectivement suivie{so_far} : {french_hours(attended)} heures "
        f"sur {session.hours} heures prévues.",
        bold=True,
        size=10,
        height=5.5,
    )
    pdf.paragraph(
        f"Heures calculées par demi-journée de présence émargée : {session.hours} heures réparties "
        f"sur {session.days * 2} demi-journées.",
        size=8.5,
    )
    pdf.ln(4)
    pdf.paragraph(
        "Sans préjudice des délais imposés par les règles fixées par le financeur, l’organisme de "
        "formation conserve l’ensemble des pièces justificatives ayant permis d’établir le présent "
        "certificat pendant une durée de 3 ans à compter de la fin de l’année du dernier paiement.",
        size=8,
    )
    pdf.ln(4)
    pdf.paragraph(f"Fait à {organisation.city or '…'}, le {french_date(today)}.", size=10, height=5.5)
    pdf.ln(3)
    pdf.signature_block(
        "Le représentant de l’organisme de formation",
        ["Nom et qualité du signataire :", "Signature et cachet :"],
        height=36,
    )
    return pdf.render()
