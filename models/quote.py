"""Quotes: what a place costs, numbered DEV-YYYY-NNNN when issued, frozen from then on."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import EmailStr, StringConstraints
from sqlalchemy import JSON, BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel

from models.base import MAX_INT, NO_NUL, UTCDateTime, with_examples
from models.training_session import SessionAsIssued


class QuoteStatus(StrEnum):
    draft = "draft"
    issued = "issued"
    accepted = "accepted"
    declined = "declined"
    # Never stored: an issued quote past its validity date is answered as expired.
    expired = "expired"
    cancelled = "cancelled"


class Quote(SQLModel, table=True):
    __tablename__ = "quote"
    __table_args__ = (
        # An applicant's own list, and the secretariat's list of a session or of a status, in id order.
        Index("ix_quote_applicant_id_id", "applicant_id", "id"),
        Index("ix_quote_session_id_id", "session_id", "id"),
        Index("ix_quote_status_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Null while draft; DEV-YYYY-NNNN once issued, never twice.
    number: str | None = Field(default=None, max_length=20, unique=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    session_id: int = Field(foreign_key="training_session.id")
    applicant_id: int = Field(foreign_key="user_account.id")
    status: str = Field(default=QuoteStatus.draft, max_length=20)
    billed_name: str = Field(default="", max_length=200)
    billed_organisation: str = Field(default="", max_length=200)
    billed_address: str = Field(default="", max_length=500)
    billed_email: str = Field(default="", max_length=254)
    # Amounts are stored, not derived: once issued, nothing that happens to the session or the
    # discount changes them.
    lines: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    subtotal_cents: int = Field(sa_type=BigInteger)
    discount_cents: int = Field(default=0, sa_type=BigInteger)
    total_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(default="EUR", max_length=3)
    discount_id: int | None = Field(default=None, foreign_key="discount.id", ondelete="SET NULL")
    vat_rate: str = Field(default="0", max_length=10)
    vat_note: str = Field(default="", sa_column=Column(Text, nullable=False))
    notes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Null while draft; once issued, what its PDF prints beyond its own columns (QuoteAsIssued).
    as_issued: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    issued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    valid_until: date | None = None
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    declined_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class QuoteAsIssued(SQLModel):
    """What an issued quote prints of its issuer and its session, as they were at issue."""

    organisation: dict[str, str]
    session: SessionAsIssued


class QuoteNumberCounter(SQLModel, table=True):
    """The last quote number given in a year: one row per year, locked while a number is taken."""

    __tablename__ = "quote_number_counter"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_number: int = Field(default=0)


Note = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=NO_NUL)]


class BilledTo(SQLModel):
    """Who pays: the applicant's employer or funder, or the applicant."""

    model_config = with_examples(
        {
            "name": "Camille Durand",
            "organisation": "Ville de Grenoble, direction des affaires culturelles",
            "address": "11, boulevard Jean Pain, 38000 Grenoble",
            "email": "formation@ville-exemple.fr",
        }
    )

    # Someone is billed: a name of spaces is no name.
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
    ]
    organisation: Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)] = ""
    address: Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)] = ""
    email: Annotated[EmailStr, Field(max_length=254)] | Literal[""] = ""


class BilledParty(SQLModel):
    """The billed party as the quote states it."""

    model_config = with_examples(
        {
            "name": "Camille Durand",
            "organisation": "Ville de Grenoble, direction des affaires culturelles",
            "address": "11, boulevard Jean Pain, 38000 Grenoble",
            "email": "formation@ville-exemple.fr",
        }
    )

    name: str
    organisation: str
    address: str
    email: str


class QuoteLine(SQLModel):
    model_config = with_examples(
        {
            "label": "Les ateliers des cultures numériques #1 — du 7 au 12 mars 2016, 6 jours, 45 heures",
            "quantity": 1,
            "unit_price_cents": 200000,
            "amount_cents": 200000,
        }
    )

    label: str
    quantity: int
    unit_price_cents: int
    amount_cents: int


class QuoteUpdate(SQLModel):
    """A draft's billed party and notes; the amounts follow the session and the discount."""

    model_config = with_examples(
        {
            "billed_to": {
                "name": "Camille Durand",
                "organisation": "Ville de Grenoble",
                "address": "11, boulevard Jean Pain, 38000 Grenoble",
                "email": "formation@ville-exemple.fr",
            },
            "notes": ["Bon de commande n° 2027-118 à rappeler sur la facture."],
        }
    )

    billed_to: BilledTo = Field(default=None)
    notes: Annotated[list[Note], Field(max_length=20)] = Field(default=None)


class QuoteIssue(SQLModel):
    """Optional: the last day the quote may be accepted (30 days after issue when omitted)."""

    model_config = with_examples({"valid_until": "2027-02-28"}, {})

    valid_until: date | None = Field(default=None, description="Inclusive, Europe/Paris")


_QUOTE_EXAMPLE = {
    "id": 1,
    "number": "DEV-2027-0001",
    "application_id": 3,
    "session_id": 2,
    "applicant_id": 4,
    "status": "issued",
    "billed_to": {
        "name": "Camille Durand",
        "organisation": "Ville de Grenoble",
        "address": "11, boulevard Jean Pain, 38000 Grenoble",
        "email": "formation@ville-exemple.fr",
    },
    "lines": [
        {
            "label": "Les ateliers des cultures numériques #2 — du 8 au 13 mars 2027, 6 jours, 45 heures",
            "quantity": 1,
            "unit_price_cents": 200000,
            "amount_cents": 200000,
        },
        {
            "label": "Réduction « Anciens stagiaires » (ALUMNI) : 10 %",
            "quantity": 1,
            "unit_price_cents": -20000,
            "amount_cents": -20000,
        },
    ],
    "subtotal_cents": 200000,
    "discount_cents": 20000,
    "total_cents": 180000,
    "currency": "EUR",
    "vat_rate": "0",
    "vat_note": "TVA non applicable : exonération de la formation professionnelle continue, "
    "article 261-4-4° a du CGI.",
    "notes": ["Le prix ne comprend pas : transport, repas, hébergement."],
    "issued_at": "2027-01-14T09:00:00Z",
    "valid_until": "2027-02-13",
    "accepted_at": None,
    "declined_at": None,
    "cancelled_at": None,
    "created_at": "2027-01-14T08:30:00Z",
    "updated_at": "2027-01-14T09:00:00Z",
}


class QuotePublic(SQLModel):
    model_config = with_examples(_QUOTE_EXAMPLE)

    id: int
    number: str | None
    application_id: int
    session_id: int
    applicant_id: int
    status: QuoteStatus
    billed_to: BilledParty
    lines: list[QuoteLine]
    subtotal_cents: int
    discount_cents: int
    total_cents: int
    currency: str
    vat_rate: str
    vat_note: str
    notes: list[str]
    issued_at: datetime | None
    valid_until: date | None
    accepted_at: datetime | None
    declined_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime


class QuotePage(SQLModel):
    model_config = with_examples({"items": [_QUOTE_EXAMPLE], "total": 1, "limit": 20, "offset": 0})

    items: list[QuotePublic]
    total: int
    limit: int
    offset: int


class QuoteQuery(SQLModel):
    """Filters and paging of the quotes."""

    status: QuoteStatus | None = Field(default=None, description="`expired`: issued and past valid_until")
    session_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)
