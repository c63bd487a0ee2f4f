"""Discounts: what the brochure offers subscribers and alumni, managed by the secretariat."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Column, Numeric, Text
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime


class Discount(SQLModel, table=True):
    """A percent or a fixed amount off, for one session or all; applications claim it by code."""

    __tablename__ = "discount"
    __table_args__ = (
        # Exactly one of the two ways to take money off.
        CheckConstraint("(percent IS NULL) <> (amount_cents IS NULL)", name="percent_or_amount"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Stored upper case; looked up upper case, so a code typed in lower case is still found.
    code: str = Field(max_length=40, unique=True)
    label: str = Field(max_length=200)
    percent: Decimal | None = Field(default=None, sa_column=Column(Numeric(6, 3), nullable=True))
    amount_cents: int | None = Field(default=None, sa_type=BigInteger)
    eligibility: str = Field(default="", sa_column=Column(Text, nullable=False))
    requires_proof: bool = Field(default=False)
    session_id: int | None = Field(
        default=None, foreign_key="training_session.id", index=True, ondelete="CASCADE"
    )
    valid_from: date | None = None
    valid_until: date | None = None
    active: bool = Field(default=True, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
