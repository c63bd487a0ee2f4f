"""Training sessions: the catalogue that partner sites embed, and its trainers."""

from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, EmailStr, PlainSerializer, StringConstraints, WithJsonSchema
from sqlalchemy import JSON, BigInteger, Column, Text
from sqlmodel import Field, Relationship, SQLModel

from models.base import MAX_INT, NO_NUL, Label, LongText, Paragraph, ShortText, UTCDateTime, with_examples
from models.user import User


class SessionStatus(StrEnum):
    draft = "draft"
    published = "published"
    closed = "closed"
    completed = "completed"
    cancelled = "cancelled"


# What anonymous callers may read; drafts and cancelled sessions are the secretariat's.
PUBLIC_STATUSES = (SessionStatus.published, SessionStatus.closed, SessionStatus.completed)

Slug = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=120, pattern=r"^(?:[0-9]+-)*[0-9]*[a-z][a-z0-9]*(?:-[a-z0-9]+)*$"
    ),
]
City = Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=NO_NUL)]
ListItem = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=NO_NUL)]
Phone = Annotated[str, StringConstraints(max_length=40, pattern=r"^[0-9+().\- ]*$")]
# What a session may grow its documents to (the attendance sheet prints every trainee by half-day):
# the brochure's session is 6 days for 25 trainees; a month for a hundred leaves room for any group.
MAX_SESSION_DAYS = 31
MAX_CAPACITY = 100
Capacity = Annotated[int, Field(ge=1, le=MAX_CAPACITY)]
Cents = Annotated[int, Field(ge=0, le=100_000_000_00)]
Days = Annotated[int, Field(ge=1, le=MAX_SESSION_DAYS)]
Hours = Annotated[int, Field(ge=1, le=5000)]
Items = Annotated[list[ListItem], Field(max_length=50)]


def _local_clock_time(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a local Europe/Paris time, without offset, like 09:30")
    return value.replace(second=0, microsecond=0)


# A wall-clock time in Europe/Paris, written "HH:MM".
ClockTime = Annotated[
    time,
    AfterValidator(_local_clock_time),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
            "maxLength": 5,
            "examples": ["09:30"],
        }
    ),
]
ContactEmail = Annotated[EmailStr, Field(max_length=254)] | Literal[""]


class SessionTrainer(SQLModel, table=True):
    """A trainer assigned to a session."""

    __tablename__ = "session_trainer"

    session_id: int = Field(foreign_key="training_session.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")


class TrainingSession(SQLModel, table=True):
    __tablename__ = "training_session"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120, unique=True)
    title: str = Field(max_length=200)
    subtitle: str = Field(default="", max_length=300)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    objectives: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    audiences: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    methods: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    start_date: date = Field(index=True)
    end_date: date = Field(index=True)
    daily_start_time: time
    daily_end_time: time
    days: int
    hours: int
    city: str = Field(max_length=120, index=True)
    venue: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=500)
    capacity: int
    # Kept by the admission rules under a row lock, so seats never need a count per row.
    accepted_count: int = Field(default=0)
    # Bumped by triggers (migrations 0009, 0012) with every change the session's application lists show.
    applications_version: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    price_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(default="EUR", max_length=3)
    price_excludes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    application_deadline: date
    postmark_counts: bool = Field(default=False)
    status: str = Field(default=SessionStatus.draft, max_length=20, index=True)
    contact_email: str = Field(default="", max_length=254)
    contact_phone: str = Field(default="", max_length=40)
    # Lower-case, accent-free title, subtitle and summary: the same `q` search on every database.
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)

    trainers: list[User] = Relationship(link_model=SessionTrainer)


class SessionAsIssued(SQLModel):
    """What a document prints of its session: a quote or a certificate takes it when issued, so that a
    later change of the session never reaches it; the attendance sheet, at each render."""

    title: str
    start_date: date
    end_date: date
    days: int
    hours: int
    daily_start_time: time
    daily_end_time: time
    city: str
    venue: str
    address: str
    price_excludes: list[str]


class CatalogueVersion(SQLModel, table=True):
    """One row, bumped in the same transaction as any change the public listing shows."""

    __tablename__ = "catalogue_version"

    id: int = Field(default=1, primary_key=True)
    version: int = Field(default=0, sa_type=BigInteger)


_SESSION_EXAMPLE = {
    "title": "Les ateliers des cultures numériques #2",
    "subtitle": "Comprendre et pratiquer les cultures numériques",
    "summary": "Six jours pour explorer les pratiques numériques des arts et de la culture.",
    "start_date": "2027-03-08",
    "end_date": "2027-03-13",
    "hours": 45,
    "city": "Paris",
    "capacity": 25,
    "price_cents": 200000,
    "price_excludes": ["transport", "repas", "hébergement"],
    "application_deadline": "2027-02-18",
    "postmark_counts": True,
}


class TrainingSessionCreate(SQLModel):
    """A new session; it starts as a draft."""

    model_config = with_examples(_SESSION_EXAMPLE)

    slug: Slug | None = Field(default=None, description="Made from the title when omitted")
    title: Label
    subtitle: ShortText = ""
    summary: Paragraph = ""
    description: LongText = ""
    objectives: Items = Field(default_factory=list)
    audiences: Items = Field(default_factory=list)
    topics: Items = Field(default_factory=list)
    methods: Items = Field(default_factory=list)
    start_date: date
    end_date: date = Field(description=f"At most {MAX_SESSION_DAYS} calendar days from start_date, inclusive")
    daily_start_time: ClockTime = Field(default=time(9, 30), description="Europe/Paris")
    daily_end_time: ClockTime = Field(default=time(17, 30), description="Europe/Paris")
    days: Days | None = Field(default=None, description="Calendar days from start to end when omitted")
    hours: Hours
    city: City
    venue: Label | Literal[""] = ""
    address: Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)] = ""
    capacity: Capacity
    price_cents: Cents
    currency: Literal["EUR"] = "EUR"
    price_excludes: Items = Field(default_factory=list)
    application_deadline: date = Field(description="Last day accepted, inclusive (Europe/Paris)")
    postmark_counts: bool = False
    contact_email: ContactEmail = ""
    contact_phone: Phone = ""


class TrainingSessionUpdate(SQLModel):
    """A partial change; omitted fields stay as they are, and none may be set to null."""

    model_config = with_examples({"capacity": 30, "price_cents": 210000})

    slug: Slug = Field(default=None)
    title: Label = Field(default=None)
    subtitle: ShortText = Field(default=None)
    summary: Paragraph = Field(default=None)
    description: LongText = Field(default=None)
    objectives: Items = Field(default=None)
    audiences: Items = Field(default=None)
    topics: Items = Field(default=None)
    methods: Items = Field(default=None)
    start_date: date = Field(default=None)
    end_date: date = Field(default=None)
    daily_start_time: ClockTime = Field(default=None)
    daily_end_time: ClockTime = Field(default=None)
    days: Days = Field(default=None)
    hours: Hours = Field(default=None)
    city: City = Field(default=None)
    venue: Label | Literal[""] = Field(default=None)
    address: Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)] = Field(default=None)
    capacity: Capacity = Field(default=None)
    price_cents: Cents = Field(default=None)
    price_excludes: Items = Field(default=None)
    application_deadline: date = Field(default=None)
    postmark_counts: bool = Field(default=None)
    contact_email: ContactEmail = Field(default=None)
    contact_phone: Phone = Field(default=None)


class TrainerRef(SQLModel):
    id: int
    full_name: str


_PUBLIC_SESSION_EXAMPLE = {
    "id": 2,
    "slug": "les-ateliers-des-cultures-numeriques-2",
    **_SESSION_EXAMPLE,
    "description": "Alternant apports théoriques et ateliers pratiques, la formation conduit "
    "chaque groupe à réaliser une production collective.",
    "objectives": ["Comprendre les mutations des pratiques culturelles à l'ère numérique"],
    "audiences": ["Professionnels de la culture", "Décideurs publics", "Artistes"],
    "topics": ["Cultures et usages numériques"],
    "methods": ["Ateliers pratiques en petits groupes"],
    "daily_start_time": "09:30",
    "daily_end_time": "17:30",
    "days": 6,
    "venue": "",
    "address": "Paris",
    "seats_remaining": 25,
    "currency": "EUR",
    "status": "published",
    "open_for_applications": True,
    "contact_email": "secretariat@ateliers.example",
    "contact_phone": "+33 1 00 00 00 00",
    "trainers": [{"id": 2, "full_name": "Élise Martin"}],
    "created_at": "2026-11-25T10:00:00Z",
    "updated_at": "2026-11-25T10:00:00Z",
}


class TrainingSessionPublic(SQLModel):
    model_config = with_examples(_PUBLIC_SESSION_EXAMPLE)

    id: int
    slug: str
    title: str
    subtitle: str
    summary: str
    description: str
    objectives: list[str]
    audiences: list[str]
    topics: list[str]
    methods: list[str]
    start_date: date
    end_date: date
    daily_start_time: ClockTime
    daily_end_time: ClockTime
    days: int
    hours: int
    city: str
    venue: str
    address: str
    capacity: int
    seats_remaining: int
    price_cents: int
    currency: str
    price_excludes: list[str]
    application_deadline: date
    postmark_counts: bool
    status: SessionStatus
    open_for_applications: bool
    contact_email: str
    contact_phone: str
    trainers: list[TrainerRef]
    created_at: datetime
    updated_at: datetime


class TrainingSessionPage(SQLModel):
    model_config = with_examples({"items": [_PUBLIC_SESSION_EXAMPLE], "total": 1, "limit": 20, "offset": 0})

    items: list[TrainingSessionPublic]
    total: int
    limit: int
    offset: int


class TrainerAssignment(SQLModel):
    model_config = with_examples({"trainer_ids": [2, 3]})

    trainer_ids: Annotated[list[Annotated[int, Field(ge=1, le=MAX_INT)]], Field(max_length=50)]


class TrainingSessionQuery(SQLModel):
    """Filters and paging of the catalogue."""

    status: SessionStatus | None = None
    from_: date | None = Field(
        default=None, alias="from", description="Sessions that end on or after this date"
    )
    to: date | None = Field(default=None, description="Sessions that start on or before this date")
    city: Annotated[str, StringConstraints(max_length=120, pattern=NO_NUL)] | None = None
    q: Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f]*$")] | None = Field(
        default=None,
        description="A literal substring of title, subtitle or summary, ignoring case and accents",
    )
    open: bool | None = Field(default=None, description="true: only sessions open for applications")
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)
