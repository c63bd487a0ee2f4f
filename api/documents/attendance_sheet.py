"""The attendance sheet ("feuille d'émargement") of a session, and the renders of it kept per content."""

import hashlib
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from api.documents.layout import (
    Document,
    Organisation,
    french_date,
    french_date_range,
    french_hours,
    french_time,
    session_place,
)
from api.edge.http_cache import Rendered, RenderedCache, strong_etag
from models.attendance import HalfDay
from models.training_session import SessionAsIssued

logger = logging.getLogger("ateliers.attendance")

HALF_DAY_LABELS = {HalfDay.am: "matin", HalfDay.pm: "après-\nmidi"}
# Half-day columns per table of the attendance sheet: six days fit a landscape A4 legibly.
HALF_DAYS_PER_TABLE = 12
PDF = "application/pdf"
# Part of every sheet's digest: bump it when the sheet's layout changes, so none is served stale.
SHEET_LAYOUT = 1


@dataclass(frozen=True)
class SheetTrainee:
    full_name: str
    present: tuple[tuple[date, HalfDay], ...]  # in order, so that the digest never depends on hashing
    hours: Decimal


@dataclass(frozen=True)
class SheetContent:
    """Everything the attendance sheet prints, read from the database in one go."""

    session_id: int
    session: SessionAsIssued
    half_day_hours: Decimal
    trainers: tuple[str, ...]
    trainees: tuple[SheetTrainee, ...]
    edited_on: date
    organisation: Organisation

    @property
    def digest(self) -> str:
        """Names the rendered sheet: equal exactly when every printed value is."""
        return hashlib.sha256(repr((SHEET_LAYOUT, self)).encode()).hexdigest()


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


def _chunks(half_days: Sequence[tuple[date, HalfDay]]) -> list[Sequence[tuple[date, HalfDay]]]:
    return [half_days[n : n + HALF_DAYS_PER_TABLE] for n in range(0, len(half_days), HALF_DAYS_PER_TABLE)]


def render_attendance_sheet(content: SheetContent, *, now: datetime) -> bytes:
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
        f"Lieu : {session_place(session)}"
    )
    pdf.paragraph(
        f"✓ : présent·e. Chaque demi-journée de présence vaut {french_hours(content.half_day_hours)} h "
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
                + [french_hours(trainee.hours, fixed=True)]
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
        """The sheet of `content`: the one kept, or one rendered now and kept. Callers read the content
        afresh on every download, so no process ever serves a sheet that is no longer true."""
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
            document = render_attendance_sheet(content, now=now)
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
