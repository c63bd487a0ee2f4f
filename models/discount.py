"""Discounts: what the brochure offers subscribers and alumni, managed by the secretariat."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, PlainSerializer, StringConstraints, WithJsonSchema, model_validator
from sqlalchemy import BigInteger, CheckConstraint, Column, Numeric, Text
from sqlmodel import Field, SQLModel

from models.base import MAX_INT, NO_NUL, Label, UTCDateTime, with_examples


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


def _upper_code(value: str) -> str:
    return value.strip().upper()


# Letters, digits, dashes and underscores; stored and compared upper case.
DiscountCode = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40, pattern=r"^\s*[A-Za-z0-9_-]+\s*$"),
    AfterValidator(_upper_code),
]


def _percent_text(value: Decimal) -> str:
    # "10", "12.5": the contract's decimal strings, whatever scale the database returns.
    text = format(value.normalize(), "f")
    return text


# A share of the price in percent, given and answered as a decimal string ("10", "12.5").
Percent = Annotated[
    Decimal,
    Field(gt=0, le=100, max_digits=6, decimal_places=3),
    PlainSerializer(_percent_text, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(100(\.0{1,3})?|[0-9]{1,2}(\.[0-9]{1,3})?)$",
            "maxLength": 7,
            "description": "Percent off, above 0 and at most 100, up to three decimals",
            "examples": ["10", "12.5"],
        }
    ),
]
AmountCents = Annotated[int, Field(gt=0, le=100_000_000_00, description="A fixed amount off, in cents")]
Eligibility = Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]

_DISCOUNT_EXAMPLE = {
    "code": "ALUMNI",
    "label": "Anciens stagiaires",
    "percent": "10",
    "eligibility": "Les anciens stagiaires de l’Observatoire (adhérents à l’association Réseau).",
    "requires_proof": True,
    "session_id": None,
    "valid_from": "2026-12-01",
    "valid_until": "2027-02-18",
}


def _check_window(valid_from: date | None, valid_until: date | None) -> None:
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise ValueError("valid_until must be on or after valid_from")


class DiscountCreate(SQLModel):
    """A new discount: a percent or a fixed amount in cents, never both."""

    model_config = with_examples(_DISCOUNT_EXAMPLE)

    code: DiscountCode = Field(description="Unique; stored upper case")
    label: Label
    percent: Percent | None = None
    amount_cents: AmountCents | None = None
    eligibility: Eligibility = Field(default="", description="Who qualifies, in words")
    requires_proof: bool = False
    session_id: int | None = Field(default=None, ge=1, le=MAX_INT, description="Null: every session")
    valid_from: date | None = Field(default=None, description="First day it applies (Europe/Paris)")
    valid_until: date | None = Field(default=None, description="Last day it applies, inclusive")
    active: bool = True

    @model_validator(mode="after")
    def _one_way_off(self) -> "DiscountCreate":
        if (self.percent is None) == (self.amount_cents is None):
            raise ValueError("give exactly one of percent and amount_cents")
        _check_window(self.valid_from, self.valid_until)
        return self


class DiscountUpdate(SQLModel):
    """A partial change; to switch between percent and amount, set the other one to null."""

    model_config = with_examples({"valid_until": "2027-03-01"}, {"amount_cents": 15000, "percent": None})

    code: DiscountCode = Field(default=None)
    label: Label = Field(default=None)
    percent: Percent | None = None
    amount_cents: AmountCents | None = None
    eligibility: Eligibility = Field(default=None)
    requires_proof: bool = Field(default=None)
    session_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    valid_from: date | None = None
    valid_until: date | None = None
    active: bool = Field(default=None)


_PUBLIC_DISCOUNT_EXAMPLE = {
    "id": 1,
    **_DISCOUNT_EXAMPLE,
    "amount_cents": None,
    "active": True,
    "created_at": "2026-12-01T09:00:00Z",
    "updated_at": "2026-12-01T09:00:00Z",
}


class DiscountPublic(SQLModel):
    model_config = with_examples(_PUBLIC_DISCOUNT_EXAMPLE)

    id: int
    code: str
    label: str
    percent: Percent | None
    amount_cents: int | None
    eligibility: str
    requires_proof: bool
    session_id: int | None
    valid_from: date | None
    valid_until: date | None
    active: bool
    created_at: datetime
    updated_at: datetime


class DiscountPage(SQLModel):
    model_config = with_examples({"items": [_PUBLIC_DISCOUNT_EXAMPLE], "total": 1, "limit": 20, "offset": 0})

    items: list[DiscountPublic]
    total: int
    limit: int
    offset: int


class DiscountQuery(SQLModel):
    """Filters and paging of the discounts."""

    session_id: int | None = Field(
        default=None, ge=1, le=MAX_INT, description="Discounts of this session, and those of every session"
    )
    code: DiscountCode | None = Field(default=None, description="The discount with this code, in any case")
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)
