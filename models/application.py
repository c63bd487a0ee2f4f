"""Applications to a session: the file, its decision, the waiting list, its history and documents."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, EmailStr, StrictBool, StringConstraints, Tag
from sqlalchemy import Column, Index, Text, text
from sqlmodel import Field, Relationship, SQLModel

from models.base import MAX_INT, NO_NUL, Paragraph, UTCDateTime, with_examples
from models.user import User


class ApplicationStatus(StrEnum):
    submitted = "submitted"
    accepted = "accepted"
    rejected = "rejected"
    waitlisted = "waitlisted"
    withdrawn = "withdrawn"


class Channel(StrEnum):
    online = "online"
    paper = "paper"


class Audience(StrEnum):
    culture_professional = "culture_professional"
    public_decision_maker = "public_decision_maker"
    artist = "artist"
    other = "other"


class Funding(StrEnum):
    self_funded = "self"
    employer = "employer"
    other = "other"


class DiscountStatus(StrEnum):
    none = "none"
    claimed = "claimed"
    approved = "approved"
    refused = "refused"


class DocumentKind(StrEnum):
    cv = "cv"
    letter = "letter"
    other = "other"


class Application(SQLModel, table=True):
    __tablename__ = "application"
    __table_args__ = (
        # One live application per applicant and session: a withdrawn one does not count.
        Index(
            "uq_application_live_applicant_session",
            "session_id",
            "applicant_id",
            unique=True,
            sqlite_where=text("status <> 'withdrawn'"),
            postgresql_where=text("status <> 'withdrawn'"),
        ),
        # Each list filter has an index that also gives the id order, so a page reads one page of
        # rows whatever the table holds (tests/test_query_plans.py): the secretariat's list of a
        # session, of a session by status, of a status; an applicant's own list.
        Index("ix_application_session_id_id", "session_id", "id"),
        Index("ix_application_session_status_id", "session_id", "status", "id"),
        Index("ix_application_status_id", "status", "id"),
        Index("ix_application_applicant_id_id", "applicant_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="training_session.id", ondelete="CASCADE")
    applicant_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    status: str = Field(default=ApplicationStatus.submitted, max_length=20)
    channel: str = Field(default=Channel.online, max_length=10)
    submitted_at: datetime = Field(sa_type=UTCDateTime)
    # Paper files: the date of the postmark, which decides whether the file is on time.
    postmarked_on: date | None = None
    motivation: str = Field(default="", sa_column=Column(Text, nullable=False))
    organisation: str = Field(default="", max_length=200)
    job_title: str = Field(default="", max_length=200)
    audience: str = Field(default=Audience.other, max_length=30)
    funding: str = Field(default=Funding.self_funded, max_length=10)
    billing_name: str = Field(default="", max_length=200)
    billing_organisation: str = Field(default="", max_length=200)
    billing_address: str = Field(default="", max_length=500)
    billing_email: str = Field(default="", max_length=254)
    discount_code: str | None = Field(default=None, max_length=40)
    discount_id: int | None = Field(default=None, foreign_key="discount.id", ondelete="SET NULL")
    discount_status: str = Field(default=DiscountStatus.none, max_length=10)
    # From 1 in the order of waitlisting, kept contiguous under the session's row lock.
    waitlist_position: int | None = None
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_note: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)

    applicant: User = Relationship()


class ApplicationEvent(SQLModel, table=True):
    """A change of an application's status or of its discount, written with the change itself."""

    __tablename__ = "application_event"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True, ondelete="CASCADE")
    at: datetime = Field(sa_type=UTCDateTime)
    # Null for what the service does by itself (a promotion from the waiting list has the actor
    # of the withdrawal that caused it, so this stays null only for system upkeep).
    actor_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    # "status" or "discount": which of the two the from/to values speak of.
    kind: str = Field(default="status", max_length=10)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))


class ApplicationDocument(SQLModel, table=True):
    """A file joined to an application; the bytes live under ATELIERS_STORAGE_DIR."""

    __tablename__ = "application_document"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True, ondelete="CASCADE")
    kind: str = Field(default=DocumentKind.other, max_length=10)
    # Decided from the bytes, never from the name or the client's header.
    media_type: str = Field(max_length=100)
    # The name the uploader gave, cleaned, only ever used in Content-Disposition.
    filename: str = Field(max_length=200)
    # The name the server chose on disk: random, never derived from input.
    storage_name: str = Field(max_length=64, unique=True)
    size_bytes: int
    sha256: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)


# Request and response schemas


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Motivation = Annotated[
    str, StringConstraints(min_length=1, max_length=5000, pattern=NO_NUL), AfterValidator(_not_blank)
]
Name = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]
PostalAddress = Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)]
BillingEmail = Annotated[EmailStr, Field(max_length=254)] | Literal[""]
# Looked up upper case, so "alumni10" finds "ALUMNI10".
DiscountCode = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=NO_NUL)]
ApplicantId = Annotated[int, Field(ge=1, le=MAX_INT)]


class Billing(SQLModel):
    """Who the quote and the invoice are made out to: often the employer, not the trainee."""

    name: Name = ""
    organisation: Name = ""
    address: PostalAddress = ""
    email: BillingEmail = ""


_BILLING_EXAMPLE = {
    "name": "Service formation",
    "organisation": "Musée des Beaux-Arts de Lyon",
    "address": "20 place des Terreaux, 69001 Lyon",
    "email": "formation@mba-lyon.example",
}

_APPLICATION_EXAMPLE: dict[str, Any] = {
    "motivation": "Je coordonne la médiation numérique du musée et souhaite concevoir un parcours "
    "en ligne avec nos publics.",
    "organisation": "Musée des Beaux-Arts de Lyon",
    "job_title": "Chargée de médiation",
    "audience": "culture_professional",
    "funding": "employer",
    "billing": _BILLING_EXAMPLE,
    "discount_code": "ABONNES10",
}


class ApplicationCreate(SQLModel):
    """An applicant's own application, sent online."""

    model_config = with_examples(_APPLICATION_EXAMPLE)

    channel: Literal["online"] = "online"
    motivation: Motivation
    organisation: Name = ""
    job_title: Name = ""
    audience: Audience = Audience.other
    funding: Funding = Funding.self_funded
    billing: Billing = Field(default_factory=Billing)
    discount_code: DiscountCode | None = Field(
        default=None, description="A discount the applicant claims; the secretariat approves it"
    )


class PaperApplicationCreate(ApplicationCreate):
    """A paper file received by post, recorded by the secretariat for an applicant's account."""

    model_config = with_examples(
        {**_APPLICATION_EXAMPLE, "channel": "paper", "applicant_id": 4, "postmarked_on": "2027-02-17"}
    )

    channel: Literal["paper"]  # type: ignore[assignment]
    applicant_id: ApplicantId = Field(description="The applicant account the file belongs to")
    postmarked_on: date = Field(
        description="The postmark's date: the file is on time when it is on or before the deadline"
    )


def _channel_of(body: Any) -> str | None:
    if isinstance(body, dict):
        channel = body.get("channel", "online")
        return channel if isinstance(channel, str) else None
    return getattr(body, "channel", None)


# What POST /sessions/{id}/applications takes: `channel` tells the two apart, "online" when omitted.
ApplicationSubmission = Annotated[
    Annotated[ApplicationCreate, Tag("online")] | Annotated[PaperApplicationCreate, Tag("paper")],
    Discriminator(
        _channel_of,
        custom_error_type="invalid_channel",
        custom_error_message='channel must be "online" (the default) or "paper"',
    ),
]


class BillingUpdate(SQLModel):
    """Billing fields to change; the others stay as they are."""

    name: Name = Field(default=None)
    organisation: Name = Field(default=None)
    address: PostalAddress = Field(default=None)
    email: BillingEmail = Field(default=None)


class ApplicationUpdate(SQLModel):
    """The applicant's changes while the application is submitted; omitted fields stay as they are.
    `discount_code: null` withdraws a claimed discount."""

    model_config = with_examples(
        {"job_title": "Responsable des publics", "billing": {"name": "Camille Durand"}}
    )

    motivation: Motivation = Field(default=None)
    organisation: Name = Field(default=None)
    job_title: Name = Field(default=None)
    audience: Audience = Field(default=None)
    funding: Funding = Field(default=None)
    billing: BillingUpdate = Field(default=None)
    discount_code: DiscountCode | None = Field(default=None)


class Decision(StrEnum):
    accepted = "accepted"
    rejected = "rejected"
    waitlisted = "waitlisted"


class DecisionIn(SQLModel):
    """The secretariat's decision on an application."""

    model_config = with_examples({"decision": "accepted", "note": "Dossier complet, profil adapté."})

    decision: Decision
    note: Paragraph = ""


class DiscountDecisionIn(SQLModel):
    """The secretariat's answer to a claimed discount, once the proof is checked."""

    model_config = with_examples({"approved": True, "note": "Attestation d'abonnement reçue."})

    approved: StrictBool
    note: Paragraph = ""


class ApplicantRef(SQLModel):
    id: int
    full_name: str
    email: str


class ActorRef(SQLModel):
    id: int
    full_name: str


_APPLICANT_EXAMPLE = {"id": 4, "full_name": "Camille Durand", "email": "camille.durand@example.org"}

_TRAINER_VIEW_EXAMPLE: dict[str, Any] = {
    "id": 12,
    "session_id": 2,
    "applicant": _APPLICANT_EXAMPLE,
    "status": "accepted",
    "channel": "online",
    "submitted_at": "2027-01-14T09:00:00Z",
    "postmarked_on": None,
    "motivation": _APPLICATION_EXAMPLE["motivation"],
    "organisation": "Musée des Beaux-Arts de Lyon",
    "job_title": "Chargée de médiation",
    "audience": "culture_professional",
    "decided_at": "2027-01-20T14:30:00Z",
    "created_at": "2027-01-14T09:00:00Z",
    "updated_at": "2027-01-20T14:30:00Z",
}

_PUBLIC_EXAMPLE: dict[str, Any] = {
    **_TRAINER_VIEW_EXAMPLE,
    "funding": "employer",
    "billing": _BILLING_EXAMPLE,
    "discount_code": "ABONNES10",
    "discount_status": "approved",
    "waitlist_position": None,
    "decision_note": "Dossier complet, profil adapté.",
}


class ApplicationTrainerView(SQLModel):
    """What a trainer of the session reads of an accepted trainee: no billing, no money."""

    model_config = with_examples(_TRAINER_VIEW_EXAMPLE)

    id: int
    session_id: int
    applicant: ApplicantRef
    status: ApplicationStatus
    channel: Channel
    submitted_at: datetime
    postmarked_on: date | None
    motivation: str
    organisation: str
    job_title: str
    audience: Audience
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ApplicationPublic(ApplicationTrainerView):
    """An application as its applicant and the secretariat read it."""

    model_config = with_examples(_PUBLIC_EXAMPLE)

    funding: Funding
    billing: Billing
    discount_code: str | None
    discount_status: DiscountStatus
    waitlist_position: int | None = Field(description="From 1 while waitlisted, otherwise null")
    decision_note: str


class ApplicationPage(SQLModel):
    """A page of applications; trainers' items carry no billing."""

    model_config = with_examples({"items": [_PUBLIC_EXAMPLE], "total": 1, "limit": 20, "offset": 0})

    items: list[ApplicationPublic | ApplicationTrainerView]
    total: int
    limit: int
    offset: int


class ApplicationQuery(SQLModel):
    """Filters and paging of the applications list."""

    session_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    status: ApplicationStatus | None = None
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class ApplicationEventPublic(SQLModel):
    """One change of an application's status (kind "status") or of its discount (kind "discount")."""

    model_config = with_examples(
        {
            "at": "2027-01-20T14:30:00Z",
            "actor": {"id": 1, "full_name": "Claire Secrétariat"},
            "kind": "status",
            "from_status": "submitted",
            "to_status": "accepted",
            "note": "Dossier complet, profil adapté.",
        }
    )

    at: datetime
    actor: ActorRef | None = Field(description="Null only for changes made by the service itself")
    kind: Literal["status", "discount"]
    from_status: str | None
    to_status: str
    note: str


_DOCUMENT_EXAMPLE = {
    "id": 1,
    "application_id": 1,
    "kind": "cv",
    "media_type": "application/pdf",
    "filename": "cv-camille-durand.pdf",
    "size_bytes": 48213,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "created_at": "2027-01-14T09:00:00Z",
}


class ApplicationDocumentPublic(SQLModel):
    """A document as the API shows it; the name on disk stays private."""

    model_config = with_examples(_DOCUMENT_EXAMPLE)

    id: int
    application_id: int
    kind: DocumentKind
    media_type: str
    filename: str
    size_bytes: int
    sha256: str
    created_at: datetime


class ApplicationDocumentList(SQLModel):
    model_config = with_examples({"items": [_DOCUMENT_EXAMPLE]})

    items: list[ApplicationDocumentPublic]
