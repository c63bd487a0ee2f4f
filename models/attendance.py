"""Attendance by half-day: who was present, morning and afternoon, at each day of a session."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import MAX_INT, UTCDateTime, with_examples


class HalfDay(StrEnum):
    am = "am"
    pm = "pm"


class HalfDayAttendance(SQLModel, table=True):
    """One trainee present at one half-day of a session; an absence is the lack of a row."""

    __tablename__ = "half_day_attendance"
    __table_args__ = (
        # A half-day is recorded again by replacing its rows, never by adding to them.
        UniqueConstraint(
            "session_id",
            "day",
            "half_day",
            "application_id",
            name="uq_half_day_attendance_session_day_half_day_application",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="training_session.id", ondelete="CASCADE")
    application_id: int = Field(foreign_key="application.id", index=True, ondelete="CASCADE")
    day: date
    half_day: str = Field(max_length=2)
    recorded_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    recorded_at: datetime = Field(sa_type=UTCDateTime)


HOURS_RULE = (
    "Hours attended so far, a decimal string with 2 places: the session's hours spread evenly over "
    "its half-days, hours / (days × 2) for each half-day present (45 h over 6 days is 3.75 h a "
    "half-day), rounded half up to 2 places, never more than the session's hours."
)

ApplicationIds = Annotated[list[Annotated[int, Field(ge=1, le=MAX_INT)]], Field(max_length=10_000)]


class TraineeRef(SQLModel):
    id: int
    full_name: str


class RosterEntry(SQLModel):
    """An accepted trainee as the trainers follow it: no billing, no money."""

    application_id: int
    trainee: TraineeRef
    organisation: str
    job_title: str


_ROSTER_ENTRY_EXAMPLE = {
    "application_id": 12,
    "trainee": {"id": 7, "full_name": "Camille Durand"},
    "organisation": "Musée des Beaux-Arts de Lyon",
    "job_title": "Chargée de médiation",
}


class Roster(SQLModel):
    """The accepted trainees of a session, by name."""

    model_config = with_examples({"items": [_ROSTER_ENTRY_EXAMPLE]})

    items: list[RosterEntry]


class HalfDayRecord(SQLModel):
    """Who was present at one half-day; recording the same half-day again replaces it."""

    model_config = with_examples({"date": "2027-03-08", "half_day": "am", "present": [12, 13, 15]})

    date: date
    half_day: HalfDay
    present: ApplicationIds = Field(
        description="Ids of accepted applications of the session; a repeated id counts once"
    )


class HalfDayRef(SQLModel):
    date: date
    half_day: HalfDay


class AttendanceLine(SQLModel):
    """One accepted trainee's half-days present and hours attended."""

    application_id: int
    trainee: TraineeRef
    half_days: list[HalfDayRef] = Field(description="The half-days present, in order")
    hours_attended: str = Field(description=HOURS_RULE, schema_extra={"examples": ["7.50"]})


class AttendanceSheet(SQLModel):
    """Every accepted trainee of the session, even one never marked present."""

    model_config = with_examples(
        {
            "items": [
                {
                    "application_id": 12,
                    "trainee": {"id": 7, "full_name": "Camille Durand"},
                    "half_days": [
                        {"date": "2027-03-08", "half_day": "am"},
                        {"date": "2027-03-08", "half_day": "pm"},
                    ],
                    "hours_attended": "7.50",
                }
            ]
        }
    )

    items: list[AttendanceLine]
