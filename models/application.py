"""Applications to a session: the file, its decision, the waiting list, its history and documents."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text, text
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, with_examples


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
        # The secretariat's list of a session, by status, in id order; an applicant's own list.
        Index("ix_application_session_status_id", "session_id", "status", "id"),
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
