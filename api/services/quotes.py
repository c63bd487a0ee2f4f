"""Quotes: what a place costs, computed from the session's price and an approved discount,
numbered without gaps when issued, frozen from then on, and printed for the payer to sign."""

import functools
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from sqlalchemy import bindparam, func, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from api.clock import paris_today
from api.documents.layout import Organisation, euros, french_date_range
from api.documents.quote import IssuedQuote
from api.errors import (
    Forbidden,
    InvalidTransition,
    NotFound,
    QuoteExpired,
    QuoteFrozen,
    QuoteNotIssued,
    SessionNotOpen,
    ValidationFailed,
)
from api.services.auth import Actor
from models.application import Application, ApplicationStatus, DiscountStatus
from models.base import stored_row
from models.discount import Discount
from models.quote import (
    BilledParty,
    Quote,
    QuoteAsIssued,
    QuoteIssue,
    QuoteLine,
    QuoteNumberCounter,
    QuotePublic,
    QuoteStatus,
    QuoteUpdate,
)
from models.training_session import SessionAsIssued, SessionStatus, TrainingSession
from models.user import Role, User

VAT_RATE = "0"
VAT_NOTE = (
    "TVA non applicable : exonération de la formation professionnelle continue, article 261-4-4° a du CGI."
)
VALIDITY = timedelta(days=30)
LIVE_APPLICATIONS = frozenset(
    {ApplicationStatus.submitted, ApplicationStatus.accepted, ApplicationStatus.waitlisted}
)
CENT = Decimal(1)


def percent_off(subtotal_cents: int, percent: Decimal) -> int:
    """`percent` % of an amount in cents, rounded half up to the cent."""
    return int((Decimal(subtotal_cents) * percent / Decimal(100)).quantize(CENT, rounding=ROUND_HALF_UP))


def effective_status(quote: Quote, *, today: date) -> QuoteStatus:
    """The stored status, except that an issued quote past its validity date is expired."""
    return _status_on(quote.status, quote.valid_until, today=today)


def _status_on(status: str, valid_until: date | None, *, today: date) -> QuoteStatus:
    if status == QuoteStatus.issued and valid_until is not None and today > valid_until:
        return QuoteStatus.expired
    return QuoteStatus(status)


_BILLED = ("billed_name", "billed_organisation", "billed_address", "billed_email")


def to_public(quote: Quote, *, today: date) -> QuotePublic:
    """The representation the applicant and the secretariat read."""
    values = quote.model_dump()
    return QuotePublic(
        **{name: value for name, value in values.items() if name not in _BILLED and name in _PUBLIC},
        status=_status_on(quote.status, quote.valid_until, today=today),
        lines=[QuoteLine(**line) for line in quote.lines],
        billed_to=BilledParty(
            name=quote.billed_name,
            organisation=quote.billed_organisation,
            address=quote.billed_address,
            email=quote.billed_email,
        ),
    )


_PUBLIC = frozenset(QuotePublic.model_fields) - {"status", "lines", "billed_to"}


def find_quote(db: Session, quote_id: int, *, actor: Actor, for_update: bool = False) -> Quote:
    """A quote its applicant or the secretariat may see, locked when `for_update`; otherwise NotFound."""
    query = select(Quote).where(Quote.id == quote_id)
    if for_update:
        query = query.with_for_update()
    quote = db.exec(query).first()
    _require_visible(None if quote is None else quote.applicant_id, actor=actor)
    assert quote is not None
    return quote


def _require_visible(applicant_id: int | None, *, actor: Actor) -> None:
    """NotFound unless the quote exists (`applicant_id` given) and is the actor's or the actor is the
    secretariat."""
    if applicant_id is None or (not actor.is_secretariat and applicant_id != actor.id):
        raise NotFound("No quote with this id.")


def _require_secretariat(applicant_id: int | None, *, actor: Actor) -> None:
    """A quote only the secretariat may act on: 404 before 403."""
    _require_visible(applicant_id, actor=actor)
    if not actor.is_secretariat:
        raise Forbidden("Only the secretariat may do this to a quote.")


def find_secretariat_quote(db: Session, quote_id: int, *, actor: Actor) -> Quote:
    """A quote only the secretariat may act on, locked; 404 before 403."""
    quote = find_quote(db, quote_id, actor=actor, for_update=True)
    _require_secretariat(quote.applicant_id, actor=actor)
    return quote


def _training_label(session: TrainingSession) -> str:
    dates = french_date_range(session.start_date, session.end_date)
    return f"{session.title} — {dates}, {session.days} jours, {session.hours} heures"


def _discount_label(discount: Discount) -> str:
    if discount.percent is not None:
        amount = format(discount.percent.normalize(), "f").replace(".", ",")
        how = f"{amount} %"
    else:
        how = euros(discount.amount_cents or 0)
    return f"Réduction « {discount.label} » ({discount.code}) : {how}"


def _price(db: Session, quote: Quote, application: Application, session: TrainingSession) -> None:
    """Set the lines and amounts from the session's price and the application's discount."""
    discount = None if application.discount_id is None else db.get(Discount, application.discount_id)
    for name, value in _amounts(session, discount, discount_status=application.discount_status).items():
        setattr(quote, name, value)


def _amounts(session: TrainingSession, discount: Discount | None, *, discount_status: str) -> dict[str, Any]:
    """A quote's lines and amounts (its columns): the session's price, less the discount its
    application carries (at most one) once the secretariat approved it: a claimed or refused one
    never reaches a quote. The one rule, whether its rows were loaded or read as columns."""
    if discount_status != DiscountStatus.approved:
        discount = None
    subtotal = session.price_cents
    lines = [
        QuoteLine(
            label=_training_label(session), quantity=1, unit_price_cents=subtotal, amount_cents=subtotal
        ).model_dump()
    ]
    off = 0
    if discount is not None:
        if discount.percent is not None:
            off = percent_off(subtotal, discount.percent)
        else:
            off = min(discount.amount_cents or 0, subtotal)
        lines.append(
            QuoteLine(
                label=_discount_label(discount), quantity=1, unit_price_cents=-off, amount_cents=-off
            ).model_dump()
        )
    return {
        "lines": lines,
        "subtotal_cents": subtotal,
        "discount_cents": off,
        "total_cents": subtotal - off,
        "currency": session.currency,
        "discount_id": discount.id if discount is not None else None,
    }


def _price_excludes_note(session: TrainingSession) -> list[str]:
    if not session.price_excludes:
        return []
    return [f"Le prix ne comprend pas : {', '.join(session.price_excludes)}."]


def _require_quotable(*, session_status: str, application_status: str) -> None:
    """A quote is asked for, issued or accepted only for a live application of a session that is not
    cancelled."""
    if session_status == SessionStatus.cancelled:
        raise SessionNotOpen("This session was cancelled; it takes no quote.")
    if application_status not in LIVE_APPLICATIONS:
        raise InvalidTransition(f"No quote for an application that is {application_status}.")


def request_quote(db: Session, application: Application, *, now: datetime) -> Quote:
    """A draft quote for a live application of a session not cancelled, billed as the application says."""
    session = db.get(TrainingSession, application.session_id)
    applicant = db.get(User, application.applicant_id)
    assert session is not None and applicant is not None  # foreign keys
    _require_quotable(session_status=session.status, application_status=application.status)
    quote = Quote(
        application_id=cast(int, application.id),
        session_id=cast(int, session.id),
        applicant_id=cast(int, applicant.id),
        status=QuoteStatus.draft,
        billed_name=application.billing_name.strip() or applicant.full_name,
        billed_organisation=application.billing_organisation,
        billed_address=application.billing_address,
        billed_email=application.billing_email or applicant.email,
        subtotal_cents=0,
        total_cents=0,
        vat_rate=VAT_RATE,
        vat_note=VAT_NOTE,
        notes=_price_excludes_note(session),
        created_at=now,
        updated_at=now,
    )
    _price(db, quote, application, session)
    db.add(quote)
    db.flush()
    return quote


def _require_draft(quote: Quote) -> None:
    if quote.status != QuoteStatus.draft:
        raise QuoteFrozen(f"This quote is {quote.status}; only a draft can be changed.")


def update_quote(db: Session, quote: Quote, data: QuoteUpdate, *, actor: Actor, now: datetime) -> Quote:
    """Change a draft's billed party (its applicant or the secretariat) or notes (the secretariat:
    they are printed as the organisation's word); its amounts follow the session and the discount."""
    _require_draft(quote)
    changes = data.model_dump(exclude_unset=True)
    if "notes" in changes and not actor.is_secretariat:
        raise Forbidden("Only the secretariat writes a quote's notes.")
    if "billed_to" in changes:
        if changes["billed_to"] is None:
            raise ValidationFailed("billed_to cannot be null.", loc=["body", "billed_to"])
        billed = changes["billed_to"]
        quote.billed_name = billed.get("name", "")
        quote.billed_organisation = billed.get("organisation", "")
        quote.billed_address = billed.get("address", "")
        quote.billed_email = billed.get("email", "")
    if "notes" in changes:
        if changes["notes"] is None:
            raise ValidationFailed("notes cannot be null.", loc=["body", "notes"])
        quote.notes = list(changes["notes"])
    _reprice(db, quote)
    quote.updated_at = now
    db.add(quote)
    db.flush()
    return quote


def _reprice(db: Session, quote: Quote) -> None:
    application = db.get(Application, quote.application_id)
    session = db.get(TrainingSession, quote.session_id)
    assert application is not None and session is not None  # foreign keys
    _price(db, quote, application, session)


def next_quote_number(db: Session, *, year: int) -> str:
    """The next number of `year`, DEV-YYYY-NNNN: the year's counter row is locked until the end of the
    transaction, so numbers are never given twice and a rolled-back issue gives its number back.

    Taken last, in one statement on the connection (no flush): the row stays locked only for what
    follows it, the quote's UPDATE and the COMMIT, since every issue of the year waits on it."""
    connection = db.connection()
    number = connection.execute(_TAKE_NUMBER, {"of_year": year}).scalar()
    if number is None:
        # The first issue of a year makes the row; concurrent first issues wait for it, not fail.
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        connection.execute(
            insert(QuoteNumberCounter)
            .values(year=year, last_number=0)
            .on_conflict_do_nothing(index_elements=["year"])
        )
        number = connection.execute(_TAKE_NUMBER, {"of_year": year}).scalar_one()
    return f"DEV-{year}-{number:04d}"


_COUNTER = QuoteNumberCounter.__table__  # type: ignore[attr-defined]
_TAKE_NUMBER = (
    update(_COUNTER)
    .where(_COUNTER.c.year == bindparam("of_year"))
    .values(last_number=_COUNTER.c.last_number + 1)
    .returning(_COUNTER.c.last_number)
)


def issue_quote(
    db: Session,
    quote_id: int,
    data: QuoteIssue | None,
    *,
    actor: Actor,
    organisation: Organisation,
    now: datetime,
) -> Quote:
    """Number a draft of a live application, date it, and freeze its amounts at the session's
    current price and what its PDF prints (the organisation, the session) as they are now.

    Core statements, not the unit of work: the quote, its application, its discount and its session
    in one locked read, then the year's counter and one UPDATE. Every issue of a database (SQLite)
    or of a year (the counter row) waits on this transaction, and the ORM's loads and flush were
    most of its time."""
    row = db.connection().execute(_ISSUE_READ, {"quote_id": quote_id}).first()
    _require_secretariat(None if row is None else row.applicant_id, actor=actor)
    assert row is not None
    if row.status != QuoteStatus.draft:
        raise InvalidTransition(f"Only a draft can be issued; this quote is {row.status}.")
    # Read under the application's lock: a withdrawal that committed first is seen here.
    _require_quotable(session_status=row.session_status, application_status=row.application_status)
    today = paris_today(now)
    valid_until = data.valid_until if data is not None and data.valid_until is not None else today + VALIDITY
    if valid_until < today:
        raise ValidationFailed("valid_until cannot be before the issue date.", loc=["body", "valid_until"])
    # The session and the discount as their rows, from the columns read: priced as a loaded quote is.
    priced = {name: row._mapping[f"session_{name}"] for name in _PRICED_SESSION}
    session = stored_row(TrainingSession, {"id": row.session_id, **priced})
    discount = (
        None
        if row.discount_row_id is None
        else stored_row(Discount, {name: row._mapping[f"discount_row_{name}"] for name in _PRICED_DISCOUNT})
    )
    printed = {name: row._mapping[f"session_{name}"] for name in _PRINTED_SESSION}
    as_issued = QuoteAsIssued(
        organisation=organisation.as_issued(), session=SessionAsIssued(**printed)
    ).model_dump(mode="json")
    changes = {
        **_amounts(session, discount, discount_status=row.application_discount_status),
        "as_issued": as_issued,
        "number": next_quote_number(db, year=today.year),
        "status": QuoteStatus.issued,
        "issued_at": now,
        "valid_until": valid_until,
        "updated_at": now,
    }
    new_values = {f"new_{name}": value for name, value in changes.items()}
    db.connection().execute(_issue_write(tuple(changes)), {"quote_id": quote_id, **new_values})
    return stored_row(Quote, {name: row._mapping[column.name] for name, column in _QUOTE.c.items()} | changes)


# What a quote is priced from (`_amounts`), read with the quote it issues.
_PRICED_SESSION = ("title", "start_date", "end_date", "days", "hours", "price_cents", "currency")
_PRICED_DISCOUNT = ("id", "code", "label", "percent", "amount_cents")
_PRINTED_SESSION = tuple(SessionAsIssued.model_fields)
_QUOTE = Quote.__table__  # type: ignore[attr-defined]
_APPLICATION = Application.__table__  # type: ignore[attr-defined]
_SESSION = TrainingSession.__table__  # type: ignore[attr-defined]
_DISCOUNT = Discount.__table__  # type: ignore[attr-defined]
_ISSUE_READ = (
    sa_select(
        _QUOTE,
        _APPLICATION.c.status.label("application_status"),
        _APPLICATION.c.discount_status.label("application_discount_status"),
        _SESSION.c.status.label("session_status"),
        *(
            _SESSION.c[name].label(f"session_{name}")
            for name in dict.fromkeys(_PRICED_SESSION + _PRINTED_SESSION)
        ),
        *(_DISCOUNT.c[name].label(f"discount_row_{name}") for name in _PRICED_DISCOUNT),
    )
    .join(_APPLICATION, _APPLICATION.c.id == _QUOTE.c.application_id)
    .join(_SESSION, _SESSION.c.id == _QUOTE.c.session_id)
    .outerjoin(_DISCOUNT, _DISCOUNT.c.id == _APPLICATION.c.discount_id)
    .where(_QUOTE.c.id == bindparam("quote_id"))
    # The application before the quote, so that a withdrawal under way is waited for and then seen;
    # the session and the discount are read, not locked.
    .with_for_update(of=[_APPLICATION, _QUOTE])
)


@functools.cache
def _issue_write(columns: tuple[str, ...]) -> Any:
    """The UPDATE of an issue, of exactly the columns it changes; built once (building a statement
    on every call cost more than running it)."""
    return (
        update(_QUOTE)
        .where(_QUOTE.c.id == bindparam("quote_id"))
        .values({name: bindparam(f"new_{name}") for name in columns})
    )


def _require_open(quote: Quote, *, action: str, today: date) -> None:
    status = effective_status(quote, today=today)
    if status == QuoteStatus.expired:
        raise QuoteExpired(f"This quote was valid until {quote.valid_until}; ask for a new one.")
    if status != QuoteStatus.issued:
        raise InvalidTransition(f"Only an issued quote can be {action}; this one is {status}.")


def accept_quote(db: Session, quote: Quote, *, now: datetime) -> Quote:
    """The payer accepts an issued quote while it is valid, its application live and its session not
    cancelled."""
    _require_open(quote, action="accepted", today=paris_today(now))
    # The application only, shared: a withdrawal under way (which locks the session first) is waited
    # for, then seen.
    application_status, session_status = db.exec(
        select(Application.status, TrainingSession.status)
        .join(TrainingSession, col(TrainingSession.id) == col(Application.session_id))
        .where(Application.id == quote.application_id)
        .with_for_update(read=True, of=Application)
    ).one()
    _require_quotable(session_status=session_status, application_status=application_status)
    quote.status = QuoteStatus.accepted
    quote.accepted_at = now
    quote.updated_at = now
    db.add(quote)
    db.flush()
    return quote


def decline_quote(db: Session, quote: Quote, *, now: datetime) -> Quote:
    """The payer declines an issued quote while it is valid."""
    _require_open(quote, action="declined", today=paris_today(now))
    quote.status = QuoteStatus.declined
    quote.declined_at = now
    quote.updated_at = now
    db.add(quote)
    db.flush()
    return quote


def cancel_quote(db: Session, quote: Quote, *, now: datetime) -> Quote:
    """The secretariat withdraws a draft or an issued (still valid) quote; its number stays used."""
    status = effective_status(quote, today=paris_today(now))
    if status not in (QuoteStatus.draft, QuoteStatus.issued):
        raise InvalidTransition(f"Only a draft or an issued quote can be cancelled; this one is {status}.")
    quote.status = QuoteStatus.cancelled
    quote.cancelled_at = now
    quote.updated_at = now
    db.add(quote)
    db.flush()
    return quote


def _with_status(query: Any, status: QuoteStatus | None, *, today: date) -> Any:
    if status == QuoteStatus.expired:
        return query.where(Quote.status == QuoteStatus.issued, col(Quote.valid_until) < today)
    if status == QuoteStatus.issued:
        return query.where(Quote.status == QuoteStatus.issued, col(Quote.valid_until) >= today)
    if status is not None:
        return query.where(Quote.status == status)
    return query


def list_quotes(
    db: Session,
    actor: Actor,
    *,
    status: QuoteStatus | None,
    session_id: int | None,
    today: date,
    limit: int,
    offset: int,
) -> tuple[list[Quote], int]:
    """A page of quotes: the applicant's own, or all for the secretariat; trainers see none."""
    if actor.role == Role.trainer:
        raise Forbidden("Trainers see no quotes.")

    def narrowed(query: Any) -> Any:
        if not actor.is_secretariat:
            query = query.where(Quote.applicant_id == actor.id)
        if session_id is not None:
            query = query.where(Quote.session_id == session_id)
        return _with_status(query, status, today=today)

    items = db.exec(narrowed(select(Quote)).order_by(col(Quote.id)).limit(limit).offset(offset)).all()
    total = db.exec(narrowed(select(func.count()).select_from(Quote))).one()
    return cast(list[Quote], list(items)), total


def issued_quote(quote: Quote) -> IssuedQuote:
    """What the issued quote's document prints, from what it kept at issue only: the same text
    whenever it is downloaded, whatever became of the session or the settings. A draft or a
    cancelled quote has none."""
    if quote.number is None or quote.issued_at is None or quote.valid_until is None:
        raise QuoteNotIssued("A draft quote has no document yet; it must be issued first.")
    if quote.status == QuoteStatus.cancelled:
        raise QuoteNotIssued("This quote was cancelled; it has no document any more.")
    assert quote.as_issued is not None  # written by the issue, and by migration 0010 before it
    public = to_public(quote, today=paris_today(quote.issued_at))
    return IssuedQuote(
        number=quote.number,
        issued_at=quote.issued_at,
        valid_until=quote.valid_until,
        billed_to=public.billed_to,
        lines=tuple(public.lines),
        subtotal_cents=quote.subtotal_cents,
        discount_cents=quote.discount_cents,
        total_cents=quote.total_cents,
        vat_note=quote.vat_note,
        notes=tuple(quote.notes),
        kept=QuoteAsIssued.model_validate(quote.as_issued),
    )
