"""Trainees' feedback on a session: given once each, read by the staff only as a summary."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, StrictInt, StringConstraints
from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import NO_NUL, Paragraph, UTCDateTime, with_examples


class Feedback(SQLModel, table=True):
    """One trainee's feedback; the application ties it to a trainee only to keep it to one each."""

    __tablename__ = "feedback"
    # One per application: a concurrent second one fails here rather than in a racing check.
    __table_args__ = (UniqueConstraint("application_id", name="uq_feedback_application_id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="training_session.id", index=True, ondelete="CASCADE")
    application_id: int = Field(foreign_key="application.id", ondelete="CASCADE")
    rating: int
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)


def _no_nul(key: str) -> str:
    # A validator, not a pattern: a key pattern would turn the mapping into unbounded patternProperties.
    if "\x00" in key:
        raise ValueError("a key may not contain a NUL byte")
    return key


AnswerKey = Annotated[str, StringConstraints(min_length=1, max_length=60), AfterValidator(_no_nul)]
AnswerValue = (
    Annotated[str, StringConstraints(max_length=1000, pattern=NO_NUL)]
    | Annotated[StrictInt, Field(ge=-1_000_000, le=1_000_000)]
)


class FeedbackCreate(SQLModel):
    """A rating from 1 to 5, a comment, and answers to the session's questions."""

    model_config = with_examples(
        {
            "rating": 5,
            "comment": "Des ateliers très concrets, un groupe stimulant.",
            "answers": {"recommande": "oui", "rythme": 4},
        }
    )

    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Paragraph = ""
    answers: Annotated[dict[AnswerKey, AnswerValue], Field(max_length=20)] = Field(
        default_factory=dict, description="At most 20 answers: short keys, a text or an integer each"
    )


class FeedbackReceipt(SQLModel):
    model_config = with_examples({"id": 1, "session_id": 2, "created_at": "2027-03-12T17:00:00Z"})

    id: int
    session_id: int
    created_at: datetime


class FeedbackSummary(SQLModel):
    """The feedback of a session, without names, ids or the order it came in."""

    model_config = with_examples(
        {
            "count": 3,
            "average": "4.33",
            "distribution": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 2},
            "comments": ["Des ateliers très concrets.", "Un groupe stimulant."],
        }
    )

    count: int
    average: str | None = Field(description="Mean rating, a decimal string with two decimals; null when none")
    distribution: dict[str, int]
    comments: list[str] = Field(description="Non-empty comments, sorted alphabetically, never attributed")
