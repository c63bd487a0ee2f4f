"""Passwords, access tokens (JWT), and the opaque secrets behind refresh tokens and API keys."""

import functools
import hashlib
import os
import re
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jose import JWTError, jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from api.config import Settings

ALGORITHM = "HS256"
API_KEY_PREFIX = "atk_"
REFRESH_TOKEN_PREFIX = "rt_"

# One hash at a time per processor, less one: a burst of logins queues here instead of taking every
# core (and 19 MiB each) from the requests that hold a database lock, which then timed out (503).
_HASHING = threading.BoundedSemaphore(max(1, (os.cpu_count() or 1) - 1))


class Passwords:
    """Argon2id password hashes at the cost the settings name (`ATELIERS_PASSWORD_HASH_*`).

    Only new hashes take that cost: Argon2 writes its parameters into each hash, and a stored hash
    is verified with its own, so lowering or raising the cost never locks anyone out. Hashing is
    CPU-heavy: call these from a threadpool.
    """

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        argon2 = Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self._hash = PasswordHash((argon2,))

    @classmethod
    def from_settings(cls, settings: Settings) -> "Passwords":
        return cls(
            time_cost=settings.password_hash_time_cost,
            memory_kib=settings.password_hash_memory_kib,
            parallelism=settings.password_hash_parallelism,
        )

    @functools.cached_property
    def _dummy_hash(self) -> str:
        # Verified against when the email is unknown, so that both failures cost the same time.
        return self._hash.hash("not a real password, only here to spend time")

    def hash(self, password: str) -> str:
        """The Argon2id hash of a password, at this object's cost."""
        with _HASHING:
            return self._hash.hash(password)

    def verify(self, password: str, password_hash: str | None) -> bool:
        """Check a password, spending the same time when there is no account to check against."""
        with _HASHING:
            if password_hash is None:
                self._hash.verify(password, self._dummy_hash)
                return False
            try:
                return self._hash.verify(password, password_hash)
            except Exception:  # a malformed stored hash is a failed login, never a 500
                return False


def digest(secret: str) -> str:
    """What is stored of an opaque secret: its SHA-256, enough for random 256-bit values."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_opaque_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


# A user id as this service writes it: plain ASCII digits (str.isdigit also accepts "¹").
_USER_ID = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    jti: str
    token_version: int


def create_access_token(
    settings: Settings, *, user_id: int, role: str, token_version: int, now: datetime
) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds; `ver` ties it to the account's
    credentials version, which deactivation bumps."""
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "ver": token_version,
    }
    return jwt.encode(claims, settings.signing_key, algorithm=ALGORITHM), int(lifetime.total_seconds())


@functools.lru_cache(maxsize=4096)
def _verified_claims(token: str, key: str, audience: str, issuer: str) -> dict[str, Any]:
    """Signature, audience and issuer of a token, which do not change with time: a client sends the
    same token with every request, so each is verified once. A refused token raises, and is never
    kept; the cache is bounded, so tokens sent once age out. Times are checked on every use."""
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],
        audience=audience,
        issuer=issuer,
        # Expiry is checked by the caller against the injected clock instead.
        options={
            "require_exp": True,
            "require_sub": True,
            "require_iat": True,
            "require_jti": True,
            "require_aud": True,
            "require_iss": True,
            "verify_exp": False,
        },
    )
    return claims


def decode_access_token(settings: Settings, token: str, *, now: datetime) -> AccessClaims | None:
    """The claims of a valid token, or None for anything forged, expired or foreign."""
    try:
        claims = _verified_claims(token, settings.signing_key, settings.jwt_audience, settings.jwt_issuer)
    except (JWTError, ValueError, TypeError):
        return None
    exp, iat, sub = claims.get("exp"), claims.get("iat"), claims.get("sub")
    jti, version = claims.get("jti"), claims.get("ver")
    if not isinstance(exp, int | float) or exp <= now.timestamp():
        return None
    # A token is never issued in the future: such an iat is forged or from a broken clock.
    if not isinstance(iat, int | float) or iat > now.timestamp():
        return None
    if not isinstance(sub, str) or not _USER_ID.fullmatch(sub):
        return None
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version < 2**31:
        return None
    return AccessClaims(user_id=int(sub), jti=str(jti), token_version=version)
