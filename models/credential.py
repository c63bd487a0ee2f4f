"""What proves who a caller is: refresh tokens, API keys, and the record of login attempts."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, StringConstraints, field_validator
from sqlalchemy import false
from sqlmodel import Field, SQLModel

from models.base import NO_NUL, OpaqueToken, UTCDateTime, with_examples
from models.user import Role

# The column's length, and so the longest name a request may give.
API_KEY_NAME_MAX_LENGTH = 100


class RefreshFamily(SQLModel, table=True):
    """Every refresh token descended from one login; its row is locked by refresh, logout and
    reuse handling, so that revoking it wins against a concurrent rotation."""

    __tablename__ = "refresh_family"

    id: str = Field(max_length=36, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RefreshToken(SQLModel, table=True):
    """One link of a rotation chain; a family is every token descended from one login."""

    __tablename__ = "refresh_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    family_id: str = Field(max_length=36, foreign_key="refresh_family.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    """A long-lived key for staff scripts; only its hash is kept."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=API_KEY_NAME_MAX_LENGTH)
    role: str = Field(max_length=20)
    key_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class LoginAttempt(SQLModel, table=True):
    """A login attempt, recorded in flight before its password is checked, then deleted when it
    succeeds or marked failed, kept in the database so that every process counts the same."""

    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, index=True)
    client_address: str = Field(max_length=64, index=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    # In flight until its password is checked: it then counts against its address as well.
    failed: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class TokenPair(SQLModel):
    model_config = with_examples(
        {
            "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
            "refresh_token": "rt_Jm3...",
            "token_type": "bearer",
            "expires_in": 900,
        }
    )

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Lifetime of the access token, in seconds")


class RefreshIn(SQLModel):
    model_config = with_examples({"refresh_token": "rt_..."})

    refresh_token: OpaqueToken


class ApiKeyCreate(SQLModel):
    model_config = with_examples(
        {"name": "export comptable", "role": "secretariat", "expires_at": "2027-06-30T00:00:00+02:00"}
    )

    name: Annotated[str, StringConstraints(min_length=1, max_length=API_KEY_NAME_MAX_LENGTH, pattern=NO_NUL)]
    role: Role
    expires_at: AwareDatetime = Field(description="When the key stops working: a year ahead at most")

    @field_validator("expires_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        # Some offsets push a valid local date past year 9999 once in UTC.
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("expires_at is out of range") from None


_API_KEY_EXAMPLE = {
    "id": 1,
    "name": "export comptable",
    "role": "secretariat",
    "user_id": 1,
    "prefix": "atk_V2bq1xYz",
    "expires_at": "2027-06-29T22:00:00Z",
    "revoked_at": None,
    "created_at": "2027-01-14T09:00:00Z",
}


class ApiKeyPublic(SQLModel):
    model_config = with_examples(_API_KEY_EXAMPLE)

    id: int
    name: str
    role: Role
    user_id: int
    prefix: str = Field(description="The first characters of the key, to recognise it")
    expires_at: datetime
    revoked_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyPublic):
    model_config = with_examples({**_API_KEY_EXAMPLE, "key": "atk_V2bq1xYz..."})

    key: str = Field(description="The key itself, shown in this answer only")


class ApiKeyList(SQLModel):
    model_config = with_examples({"items": [_API_KEY_EXAMPLE]})

    items: list[ApiKeyPublic]
