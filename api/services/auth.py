"""Who is calling: logins, refresh-token rotation, API keys, and the checks on every request."""

import ipaddress
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, delete, func, update
from sqlmodel import Session, col, select

from api.config import Settings
from api.db.engine import lock_names
from api.errors import (
    FailureOverLimit,
    InvalidCredentials,
    NotFound,
    RefreshTokenReused,
    TooManyAttempts,
    Unauthorized,
    ValidationFailed,
)
from api.security import (
    API_KEY_PREFIX,
    REFRESH_TOKEN_PREFIX,
    Passwords,
    create_access_token,
    decode_access_token,
    digest,
    new_opaque_secret,
)
from api.services.users import find_user_by_email, normalize_email
from models.base import MAX_INT
from models.credential import (
    ApiKey,
    ApiKeyCreate,
    LoginAttempt,
    RefreshFamily,
    RefreshToken,
    TokenPair,
)
from models.user import Role, User

API_KEY_MAX_LIFETIME = timedelta(days=365)


@dataclass(frozen=True)
class Actor:
    """The caller of a request: a user, acting with a role (an API key's, or the user's own)."""

    user: User
    role: Role
    api_key_id: int | None = None

    @property
    def id(self) -> int:
        assert self.user.id is not None
        return self.user.id

    @property
    def is_secretariat(self) -> bool:
        return self.role == Role.secretariat


class Credentials(Protocol):
    """Where `authenticate` reads the rows behind a credential (api/db/row_reader.py)."""

    async def user(self, user_id: int) -> User | None: ...

    async def api_key(self, key_hash: str) -> ApiKey | None: ...


async def authenticate(credentials: Credentials, bearer: str, *, settings: Settings, now: datetime) -> Actor:
    """The actor behind a bearer credential; role, active flag and credentials version come from
    the database, read now."""
    if bearer.startswith(API_KEY_PREFIX):
        key = await credentials.api_key(digest(bearer))
        if key is None or key.revoked_at is not None or key.expires_at <= now:
            raise Unauthorized("This API key is unknown, revoked or expired.")
        user = await credentials.user(key.user_id)
        if user is None or not user.active:
            raise Unauthorized("The account behind this API key is deactivated.")
        return Actor(user=user, role=Role(key.role), api_key_id=key.id)
    claims = decode_access_token(settings, bearer, now=now)
    if claims is None:
        raise Unauthorized("The access token is invalid or expired.")
    # An id no id column can hold names nobody; PostgreSQL would refuse the lookup itself.
    user = await credentials.user(claims.user_id) if claims.user_id <= MAX_INT else None
    if user is None or not user.active or claims.token_version != user.token_version:
        raise Unauthorized("The account behind this token is deactivated or gone.")
    return Actor(user=user, role=Role(user.role))


def _issue_token_pair(
    db: Session, user: User, *, family: RefreshFamily, settings: Settings, now: datetime
) -> TokenPair:
    assert user.id is not None
    access_token, expires_in = create_access_token(
        settings, user_id=user.id, role=user.role, token_version=user.token_version, now=now
    )
    refresh_token = new_opaque_secret(REFRESH_TOKEN_PREFIX)
    db.add(
        RefreshToken(
            user_id=user.id,
            family_id=family.id,
            token_hash=digest(refresh_token),
            expires_at=now + timedelta(days=settings.refresh_token_days),
            created_at=now,
        )
    )
    db.flush()
    return TokenPair(access_token=access_token, refresh_token=refresh_token, expires_in=expires_in)


def client_address_key(client_address: str) -> str:
    """What the per-address login counter keys on: the address in canonical form, or a digest of
    whatever a trusted proxy forwarded that is no address, so that it always fits its column."""
    try:
        return str(ipaddress.ip_address(client_address))
    except ValueError:
        return "unparsed:" + digest(client_address)[:40]


def _refuse_past_limit(
    db: Session, *conditions: ColumnElement[bool], limit: int, window: timedelta, now: datetime
) -> None:
    """429 when the attempts matching `conditions` in the window reached `limit`, with the time until
    the oldest of them leaves it."""
    in_window = col(LoginAttempt.at) > now - window
    count, oldest = db.exec(
        select(func.count(), func.min(LoginAttempt.at)).where(*conditions, in_window)
    ).one()
    if count >= limit and oldest is not None:
        oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo)
        raise TooManyAttempts(max(1, math.ceil((oldest_at + window - now).total_seconds())))


def _record_attempt(
    db: Session, *, email: str, client_address: str, settings: Settings, now: datetime
) -> int:
    """Refuse an account whose failures and logins in flight reached its limit, or an address whose
    failures reached its own, else record this attempt as in flight; serialised per account, so that
    concurrent guesses at one account never get more passwords checked than its limit."""
    # The address is not locked: its logins in flight never count against it, so colleagues behind
    # one address (an office, a campus) neither wait on nor refuse each other here.
    lock_names(db, f"login:email:{email}")
    window = timedelta(minutes=settings.login_attempts_window_minutes)
    _refuse_past_limit(
        db, col(LoginAttempt.email) == email, limit=settings.login_attempts_limit, window=window, now=now
    )
    _refuse_past_limit(
        db,
        col(LoginAttempt.client_address) == client_address,
        col(LoginAttempt.failed).is_(True),
        limit=settings.login_failures_per_address_limit,
        window=window,
        now=now,
    )
    attempt = LoginAttempt(email=email, client_address=client_address, at=now)
    db.add(attempt)
    db.flush()
    assert attempt.id is not None
    return attempt.id


def _record_failure(
    db: Session, attempt_id: int, *, client_address: str, settings: Settings, now: datetime
) -> None:
    """The attempt, in flight until now, becomes a failure of its account and of its address; past
    the address's limit it is answered 429, not 401. Serialised per address, so that wrong passwords
    checked together never get more answers than the limit."""
    lock_names(db, f"login:address:{client_address}")
    db.execute(update(LoginAttempt).where(col(LoginAttempt.id) == attempt_id).values(failed=True))
    try:
        _refuse_past_limit(
            db,
            col(LoginAttempt.client_address) == client_address,
            col(LoginAttempt.failed).is_(True),
            col(LoginAttempt.id) != attempt_id,
            limit=settings.login_failures_per_address_limit,
            window=timedelta(minutes=settings.login_attempts_window_minutes),
            now=now,
        )
    except TooManyAttempts as refusal:
        raise FailureOverLimit(int(refusal.headers["Retry-After"])) from None


@dataclass(frozen=True)
class PendingLogin:
    """A login attempt recorded in flight, and the account it names (if any), before its password
    is checked."""

    attempt_id: int
    client_address: str
    user_id: int | None
    password_hash: str | None


def begin_login(
    db: Session, *, email: str, client_address: str, settings: Settings, now: datetime
) -> PendingLogin:
    """The first step of a login: at most `login_attempts_limit` attempts per account (failed or in
    flight) and `login_failures_per_address_limit` failures per address in the window, every process
    counting the same; the attempt is recorded in flight. Commit it before checking the password,
    so that it counts for every process while no lock is held during Argon2."""
    email = normalize_email(email, loc=["body", "username"])
    address = client_address_key(client_address)
    attempt_id = _record_attempt(db, email=email, client_address=address, settings=settings, now=now)
    user = find_user_by_email(db, email)
    return PendingLogin(
        attempt_id=attempt_id,
        client_address=address,
        user_id=user.id if user else None,
        password_hash=user.password_hash if user else None,
    )


def password_matches(login: PendingLogin, password: str, *, passwords: Passwords) -> bool:
    """Argon2's check of the password (slow on purpose): run it outside any transaction."""
    return passwords.verify(password, login.password_hash)


def finish_login(
    db: Session, login: PendingLogin, *, password_matched: bool, settings: Settings, now: datetime
) -> TokenPair:
    """The second step of a login: a token pair for an active account whose password matched, or
    the attempt recorded as a failure (401, or 429 past the address's limit)."""
    if not password_matched or login.user_id is None:
        _record_failure(db, login.attempt_id, client_address=login.client_address, settings=settings, now=now)
        raise InvalidCredentials("The email or the password is wrong.")
    # Locked so that a deactivation either comes first and refuses this login, or waits and
    # revokes the family made here.
    user = db.exec(
        select(User)
        .where(User.id == login.user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if user is None or not user.active:
        _record_failure(db, login.attempt_id, client_address=login.client_address, settings=settings, now=now)
        raise InvalidCredentials("The email or the password is wrong.")
    db.execute(delete(LoginAttempt).where(col(LoginAttempt.id) == login.attempt_id))
    purge_login_attempts(db, settings=settings, now=now)
    assert user.id is not None
    family = RefreshFamily(id=str(uuid.uuid4()), user_id=user.id, created_at=now)
    db.add(family)
    return _issue_token_pair(db, user, family=family, settings=settings, now=now)


def _locked_family(db: Session, refresh_token: str) -> tuple[RefreshFamily, RefreshToken] | None:
    """The family of a refresh token, locked, and the token as it is once the lock is held."""
    family_id = db.exec(
        select(RefreshToken.family_id).where(RefreshToken.token_hash == digest(refresh_token))
    ).first()
    if family_id is None:
        return None
    # Refresh, logout and reuse handling all take this lock first: a revocation never misses a
    # token that a concurrent rotation inserts.
    family = db.exec(
        select(RefreshFamily)
        .where(RefreshFamily.id == family_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    token = db.exec(
        select(RefreshToken)
        .where(RefreshToken.token_hash == digest(refresh_token))
        .execution_options(populate_existing=True)
    ).one()
    return family, token


def _revoke_family(db: Session, family: RefreshFamily, *, now: datetime) -> None:
    if family.revoked_at is None:
        family.revoked_at = now
        db.add(family)
    db.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family.id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def refresh_tokens(db: Session, *, refresh_token: str, settings: Settings, now: datetime) -> TokenPair:
    """Rotate a refresh token; presenting one already used revokes its whole family."""
    found = _locked_family(db, refresh_token)
    if found is None:
        raise Unauthorized("This refresh token is unknown or revoked.")
    family, token = found
    if family.revoked_at is not None or token.revoked_at is not None:
        raise Unauthorized("This refresh token is unknown or revoked.")
    if token.used_at is not None:
        _revoke_family(db, family, now=now)
        raise RefreshTokenReused("This refresh token was already used; its session is now revoked.")
    if token.expires_at <= now:
        raise Unauthorized("This refresh token has expired.")
    user = db.get(User, token.user_id)
    if user is None or not user.active:
        raise Unauthorized("This account is deactivated.")
    token.used_at = now
    db.add(token)
    return _issue_token_pair(db, user, family=family, settings=settings, now=now)


def log_out(db: Session, *, refresh_token: str, now: datetime) -> None:
    """End the login behind a refresh token; an unknown token is already logged out."""
    found = _locked_family(db, refresh_token)
    if found is not None:
        _revoke_family(db, found[0], now=now)


def create_api_key(db: Session, actor: Actor, data: ApiKeyCreate, *, now: datetime) -> tuple[ApiKey, str]:
    """A key for a staff script, acting as `actor` with the role it is minted for, for a year at most."""
    if data.expires_at <= now:
        raise ValidationFailed("expires_at must be in the future.", loc=["body", "expires_at"])
    if data.expires_at > now + API_KEY_MAX_LIFETIME:
        raise ValidationFailed("expires_at must be within a year from now.", loc=["body", "expires_at"])
    secret = new_opaque_secret(API_KEY_PREFIX)
    key = ApiKey(
        user_id=actor.id,
        name=data.name,
        role=data.role,
        key_hash=digest(secret),
        prefix=secret[:12],
        expires_at=data.expires_at.astimezone(UTC),
        created_at=now,
    )
    db.add(key)
    db.flush()
    return key, secret


def list_api_keys(db: Session, *, include_revoked: bool) -> list[ApiKey]:
    query = select(ApiKey).order_by(col(ApiKey.id))
    if not include_revoked:
        query = query.where(col(ApiKey.revoked_at).is_(None))
    return list(db.exec(query).all())


def get_api_key(db: Session, key_id: int) -> ApiKey:
    key = db.get(ApiKey, key_id)
    if key is None:
        raise NotFound("No API key with this id.")
    return key


def revoke_api_key(db: Session, key_id: int, *, now: datetime) -> None:
    key = get_api_key(db, key_id)
    if key.revoked_at is None:
        key.revoked_at = now
        db.add(key)


def purge_login_attempts(db: Session, *, settings: Settings, now: datetime) -> None:
    """Forget attempts older than the window; they no longer count."""
    cutoff = now - timedelta(minutes=settings.login_attempts_window_minutes)
    db.execute(delete(LoginAttempt).where(col(LoginAttempt.at) <= cutoff))


@dataclass(frozen=True)
class CredentialPurge:
    login_attempts: int
    refresh_tokens: int


def purge_expired_credentials(db: Session, *, settings: Settings, now: datetime) -> CredentialPurge:
    """Delete what can no longer count or be used: login attempts past the window, and refresh-token
    families with no live token left (nothing remains that reuse detection could revoke)."""
    cutoff = now - timedelta(minutes=settings.login_attempts_window_minutes)
    attempts = db.execute(delete(LoginAttempt).where(col(LoginAttempt.at) <= cutoff))
    live_families = select(RefreshToken.family_id).where(
        col(RefreshToken.revoked_at).is_(None),
        col(RefreshToken.used_at).is_(None),
        col(RefreshToken.expires_at) > now,
    )
    spent = select(RefreshFamily.id).where(col(RefreshFamily.id).not_in(live_families))
    tokens = db.execute(delete(RefreshToken).where(col(RefreshToken.family_id).in_(spent)))
    db.execute(delete(RefreshFamily).where(col(RefreshFamily.id).not_in(select(RefreshToken.family_id))))
    return CredentialPurge(
        login_attempts=attempts.rowcount,  # type: ignore[attr-defined]
        refresh_tokens=tokens.rowcount,  # type: ignore[attr-defined]
    )
