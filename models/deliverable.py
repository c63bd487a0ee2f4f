"""Deliverables: the trainees' group productions of a session, and the trainers' evaluations of them."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AnyUrl,
    PlainSerializer,
    StringConstraints,
    UrlConstraints,
    WithJsonSchema,
)
from sqlalchemy import JSON, Column, Numeric, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import MAX_INT, NO_NUL, Label, Paragraph, UTCDateTime, with_examples


def decimal_text(value: Decimal) -> str:
    """ "14.5", "20": the contract's decimal strings, whatever scale the database returns."""
    text = format(value.normalize(), "f")
    return text


class Deliverable(SQLModel, table=True):
    """A group production of some accepted trainees of a session."""

    __tablename__ = "deliverable"

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="training_session.id", index=True, ondelete="CASCADE")
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    url: str = Field(default="", max_length=2000)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class DeliverableMember(SQLModel, table=True):
    """An accepted application whose trainee took part in a deliverable."""

    __tablename__ = "deliverable_member"

    deliverable_id: int = Field(foreign_key="deliverable.id", primary_key=True, ondelete="CASCADE")
    application_id: int = Field(
        foreign_key="application.id", primary_key=True, index=True, ondelete="CASCADE"
    )


class Evaluation(SQLModel, table=True):
    """One trainer's evaluation of one deliverable; criteria are [{name, score, max_score}]."""

    __tablename__ = "evaluation"
    # One per trainer and deliverable: a concurrent second one fails here, not in a check that races.
    __table_args__ = (
        UniqueConstraint("deliverable_id", "trainer_id", name="uq_evaluation_deliverable_trainer"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deliverable_id: int = Field(foreign_key="deliverable.id", index=True, ondelete="CASCADE")
    trainer_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    score: Decimal = Field(sa_column=Column(Numeric(7, 2), nullable=False))
    max_score: int = Field(default=20)
    criteria: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    published: bool = Field(default=False)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


# A score given and answered as a decimal string ("14.5"), at most two decimals.
Score = Annotated[
    Decimal,
    Field(ge=0, le=1000, max_digits=6, decimal_places=2),
    PlainSerializer(decimal_text, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{1,4}(\.[0-9]{1,2})?$",
            "maxLength": 7,
            "description": "A score from 0, up to two decimals",
            "examples": ["14.5"],
        }
    ),
]
MaxScore = Annotated[int, Field(ge=1, le=1000)]
# The length of deliverable.url.
URL_MAX_LENGTH = 2000


def _fits_its_column(url: AnyUrl) -> AnyUrl:
    # Checked once encoded: "é" is stored as "%C3%A9", six characters for one sent.
    if len(str(url)) > URL_MAX_LENGTH:
        raise ValueError(f"the URL is longer than {URL_MAX_LENGTH} characters once encoded")
    return url


HttpUrl = Annotated[
    AnyUrl,
    UrlConstraints(max_length=URL_MAX_LENGTH, allowed_schemes=["http", "https"]),
    AfterValidator(_fits_its_column),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"type": "string", "format": "uri", "maxLength": URL_MAX_LENGTH, "examples": ["https://example.org"]}
    ),
]
ApplicationIdRef = Annotated[int, Field(ge=1, le=MAX_INT)]


class Criterion(SQLModel):
    """One line of an evaluation grid."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
    score: Score
    max_score: MaxScore


_DELIVERABLE_IN_EXAMPLE = {
    "title": "Cartographie sonore du quartier",
    "description": "Une balade sonore géolocalisée réalisée en groupe.",
    "url": "https://example.org/cartographie-sonore",
    "member_ids": [12, 15, 18],
}


class DeliverableCreate(SQLModel):
    """A group production; its members are accepted applications of the session."""

    model_config = with_examples(_DELIVERABLE_IN_EXAMPLE)

    title: Label
    description: Paragraph = ""
    url: HttpUrl | None = Field(default=None, description="An http(s) address where the production lives")
    member_ids: Annotated[list[ApplicationIdRef], Field(min_length=1, max_length=100)] = Field(
        description="Ids of accepted applications of the session"
    )


class MemberRef(SQLModel):
    application_id: int
    full_name: str


_DELIVERABLE_EXAMPLE = {
    "id": 1,
    "session_id": 2,
    **{k: v for k, v in _DELIVERABLE_IN_EXAMPLE.items() if k != "member_ids"},
    "members": [{"application_id": 12, "full_name": "Camille Durand"}],
    "created_at": "2027-03-12T15:00:00Z",
    "updated_at": "2027-03-12T15:00:00Z",
}


class DeliverablePublic(SQLModel):
    model_config = with_examples(_DELIVERABLE_EXAMPLE)

    id: int
    session_id: int
    title: str
    description: str
    url: str
    members: list[MemberRef]
    created_at: datetime
    updated_at: datetime


class DeliverableList(SQLModel):
    model_config = with_examples({"items": [_DELIVERABLE_EXAMPLE]})

    items: list[DeliverablePublic]


_EVALUATION_IN_EXAMPLE = {
    "score": "15.5",
    "max_score": 20,
    "criteria": [
        {"name": "Démarche", "score": "8", "max_score": 10},
        {"name": "Réalisation", "score": "7.5", "max_score": 10},
    ],
    "comment": "Une production aboutie, bien documentée.",
    "published": True,
}


class EvaluationCreate(SQLModel):
    """A trainer's evaluation of a deliverable; only published ones reach its members."""

    model_config = with_examples(_EVALUATION_IN_EXAMPLE)

    score: Score
    max_score: MaxScore = 20
    criteria: Annotated[list[Criterion], Field(max_length=20)] = Field(default_factory=list)
    comment: Paragraph = ""
    published: bool = False


class EvaluationUpdate(SQLModel):
    """A partial change by its author; omitted fields stay as they are, none may be null."""

    model_config = with_examples({"published": True})

    score: Score = Field(default=None)
    max_score: MaxScore = Field(default=None)
    criteria: Annotated[list[Criterion], Field(max_length=20)] = Field(default=None)
    comment: Paragraph = Field(default=None)
    published: bool = Field(default=None)


class EvaluatorRef(SQLModel):
    id: int
    full_name: str


_EVALUATION_EXAMPLE = {
    "id": 1,
    "deliverable_id": 1,
    "trainer": {"id": 3, "full_name": "Élise Martin"},
    **_EVALUATION_IN_EXAMPLE,
    "created_at": "2027-03-12T16:00:00Z",
    "updated_at": "2027-03-12T16:00:00Z",
}


class EvaluationPublic(SQLModel):
    model_config = with_examples(_EVALUATION_EXAMPLE)

    id: int
    deliverable_id: int
    trainer: EvaluatorRef
    score: Score
    max_score: int
    criteria: list[Criterion]
    comment: str
    published: bool
    created_at: datetime
    updated_at: datetime


class EvaluationList(SQLModel):
    model_config = with_examples({"items": [_EVALUATION_EXAMPLE]})

    items: list[EvaluationPublic]
