"""Accounts: applicants who register, and trainers and staff created by the secretariat."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import EmailStr, StringConstraints
from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from models.base import NO_NUL, Label, UTCDateTime, with_examples


class Role(StrEnum):
    applicant = "applicant"
    trainer = "trainer"
    secretariat = "secretariat"


EMAIL_MAX_LENGTH = 254

Password = Annotated[str, StringConstraints(min_length=10, max_length=128, pattern=NO_NUL)]


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=EMAIL_MAX_LENGTH, unique=True, index=True)
    full_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=20, index=True)
    active: bool = Field(default=True)
    # Bumped when the account is deactivated: access tokens carrying an older version stop working.
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Bumped by triggers (migrations 0009, 0012) with every change the user's own application list shows.
    applications_version: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class UserRegister(SQLModel):
    """What anyone gives to open an applicant account."""

    model_config = with_examples(
        {
            "email": "camille.durand@example.org",
            "password": "une phrase de passe longue",
            "full_name": "Camille Durand",
        }
    )

    email: EmailStr = Field(max_length=EMAIL_MAX_LENGTH)
    password: Password
    full_name: Label


class UserCreate(UserRegister):
    """What the secretariat gives to create a trainer or a staff account."""

    model_config = with_examples(
        {
            "email": "formatrice@example.org",
            "password": "une phrase de passe longue",
            "full_name": "Élise Martin",
            "role": "trainer",
        }
    )

    role: Literal["trainer", "secretariat"]


class UserUpdate(SQLModel):
    """Fields the secretariat may change; `active: false` stops the user's tokens at once."""

    model_config = with_examples({"active": False})

    full_name: Label = Field(default=None)
    active: bool = Field(default=None)


_USER_EXAMPLE = {
    "id": 4,
    "email": "camille.durand@example.org",
    "full_name": "Camille Durand",
    "role": "applicant",
    "active": True,
    "created_at": "2027-01-14T09:00:00Z",
    "updated_at": "2027-01-14T09:00:00Z",
}


class UserPublic(SQLModel):
    model_config = with_examples(_USER_EXAMPLE)

    id: int
    email: str
    full_name: str
    role: Role
    active: bool
    created_at: datetime
    updated_at: datetime


class UserPage(SQLModel):
    model_config = with_examples({"items": [_USER_EXAMPLE], "total": 1, "limit": 20, "offset": 0})

    items: list[UserPublic]
    total: int
    limit: int
    offset: int
