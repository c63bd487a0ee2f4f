"""Training certificates ("attestations de fin de formation"), verifiable by their public code."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import PlainSerializer, WithJsonSchema
from sqlalchemy import JSON, Column, Numeric
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, with_examples
from models.training_session import SessionAsIssued


class Certificate(SQLModel, table=True):
    """Issued once per accepted application of a completed session; the hours are frozen at issue."""

    __tablename__ = "certificate"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", unique=True, ondelete="CASCADE")
    code: str = Field(max_length=64, unique=True)
    hours_attended: Decimal = Field(sa_column=Column(Numeric(7, 2), nullable=False))
    issued_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    issued_at: datetime = Field(sa_type=UTCDateTime)
    # What its PDF and its verification print (CertificateAsIssued), as it was at issue.
    as_issued: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class EvaluationResult(SQLModel):
    """A published evaluation of a production the trainee belongs to, as a certificate reports it."""

    title: str
    score: Decimal
    max_score: int


class CertificateAsIssued(SQLModel):
    """What a certificate prints of its issuer, its trainee, its session and the trainee's results,
    as they were at issue: a later change of any of them never reaches it."""

    organisation: dict[str, str]
    trainee_name: str
    trainee_position: str
    session: SessionAsIssued
    objectives: list[str]
    results: list[EvaluationResult]


Hours = Annotated[
    Decimal,
    # Two decimals, as the attendance record writes them ("7.50"): a half-day is often 3.75 h.
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "maxLength": 12, "description": "Hours, a decimal string", "examples": ["42.00"]}
    ),
]

_CERTIFICATE_EXAMPLE = {
    "id": 1,
    "code": "q3V9cJzA0mJ8Yk1wW2xR5tP7sLbN4eHd",
    "issued_at": "2027-03-15T10:00:00Z",
    "hours_attended": "42.00",
}


class CertificatePublic(SQLModel):
    model_config = with_examples(_CERTIFICATE_EXAMPLE)

    id: int
    code: str
    issued_at: datetime
    hours_attended: Hours


class CertificateVerification(SQLModel):
    """What anyone holding the code may check, and nothing more."""

    model_config = with_examples(
        {
            "valid": True,
            "trainee_name": "Camille Durand",
            "session_title": "Les ateliers des cultures numériques #2",
            "start_date": "2027-03-08",
            "end_date": "2027-03-13",
            "hours_attended": "42.00",
            "issued_at": "2027-03-15T10:00:00Z",
        }
    )

    valid: bool
    trainee_name: str
    session_title: str
    start_date: date
    end_date: date
    hours_attended: Hours
    issued_at: datetime
