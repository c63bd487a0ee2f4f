"""Settings, read from ATELIERS_* environment variables."""

import hashlib
import ipaddress
import secrets
from functools import lru_cache
from typing import Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from stdnum.exceptions import ValidationError as InvalidNumber
from stdnum.fr import siret

# SHA-256 of signing keys that were once published (the foundation's development default):
# refused everywhere, so that no key anyone can read in this repository's history verifies a token.
_PUBLISHED_KEY_DIGESTS = frozenset({"7dc4ace562584191246cb3aad1dd7095d94fd5741fb2f98cecc0c57c1869dc99"})


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    # Errors never echo the input: a refused start must not print any part of the key.
    model_config = SettingsConfigDict(
        env_prefix="ATELIERS_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./ateliers.db"
    # Unset in development: a random key is made for the process (see `secret_key_generated`).
    secret_key: SecretStr | None = None
    storage_dir: str = "./storage"
    smtp_url: str | None = None
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    jwt_issuer: str = "ateliers"
    jwt_audience: str = "ateliers-api"
    access_token_minutes: int = Field(default=15, ge=1, le=1440)
    refresh_token_days: int = Field(default=30, ge=1, le=365)

    max_body_bytes: int = Field(default=6 * 1024 * 1024, ge=1024)
    # A request head must fit in this and arrive in this time (api/edge/server.py, under `ateliers serve`).
    max_header_bytes: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    header_timeout_seconds: float = Field(default=10, ge=0.5, le=300)
    # A body must keep coming, and come whole in this plus its length at the rate below.
    body_timeout_seconds: float = Field(default=10, ge=0.5, le=300)
    body_min_bytes_per_second: int = Field(default=64 * 1024, ge=1024)
    # Per account, failures and logins in flight; per client address, failures only (an office or
    # a campus shares one address, and its correct logins must never be refused).
    login_attempts_limit: int = Field(default=10, ge=1)
    login_failures_per_address_limit: int = Field(default=100, ge=1)
    login_attempts_window_minutes: int = Field(default=15, ge=1)
    database_timeout_seconds: int = Field(default=3, ge=1, le=60)
    # PostgreSQL connections one process keeps (AnyIO runs 40 threads); processes x (this, plus 5
    # for api/db/row_reader.py and `write_threads` for the hot writes) must stay under max_connections.
    database_pool_size: int = Field(default=40, ge=1, le=500)
    # Hot writes (submission, quote issue) run at once, on as many PostgreSQL connections of the
    # event loop or SQLite threads: they queue on the database's locks anyway, and forty threads
    # fought for the GIL while holding those locks.
    write_threads: int = Field(default=4, ge=1, le=40)
    # The worker threads of the server's loop (AnyIO's limiter, 40 by default): more than the requests
    # that may wait on one lock at once, since the request holding it needs a thread to go on.
    worker_threads: int = Field(default=100, ge=4, le=1000)
    # What one process may hold of rendered public answers (api/edge/http_cache.py).
    rendered_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0, le=1024 * 1024 * 1024)

    # Argon2id cost of new password hashes (api/security.py); a stored hash is verified at the cost it
    # was made with. The defaults are OWASP's first recommendation (19 MiB, 2 passes, 1 lane); the
    # test suite sets the least Argon2 allows, and production refuses less than OWASP's weakest.
    password_hash_time_cost: int = Field(default=2, ge=1, le=100)
    password_hash_memory_kib: int = Field(default=19 * 1024, ge=8, le=4 * 1024 * 1024)
    password_hash_parallelism: int = Field(default=1, ge=1, le=64)

    webhook_allow_private: bool = False

    # Proxies (addresses or CIDR networks, comma-separated) whose X-Forwarded-For is believed;
    # empty: none, every client is the peer that connected.
    trusted_proxies: str = Field(default="", max_length=4000)

    # Names this service in identifiers that must not depend on the Host header (calendar UIDs).
    public_domain: str = "ateliers.example"
    # Where the public reaches this service (certificates print their verification address from
    # it); empty: https://{public_domain}.
    public_base_url: str = Field(default="", max_length=500, pattern=r"^(https?://[^\s/?#]+(/[^\s?#]*)?)?$")

    # The organisation of the brochure; SIRET and training declaration number are not in it.
    org_name: str = "Observatoire des politiques culturelles"
    org_address: str = "1, rue du Vieux Temple, 38000 Grenoble"
    org_email: str = "formations@observatoire-culture.net"
    org_phone: str = "+33 (0)4 76 44 33 26"
    org_siret: str = ""
    org_training_declaration: str = ""

    _secret_key_generated: bool = PrivateAttr(default=False)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for entry in (part.strip() for part in value.split(",")):
            if entry:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"ATELIERS_TRUSTED_PROXIES: {entry!r} is not an address") from None
        return value

    @field_validator("org_siret")
    @classmethod
    def _siret_is_valid(cls, value: str) -> str:
        if not value.strip():
            return ""
        try:
            return siret.format(siret.validate(value))
        except InvalidNumber:
            raise ValueError("ATELIERS_ORG_SIRET is not a valid SIRET number") from None

    @model_validator(mode="after")
    def _secret_key_fits_environment(self) -> "Settings":
        # The messages never quote the key: a refused start must not print any part of it.
        if self.secret_key is None or not self.secret_key.get_secret_value():
            if self.env != "development":
                raise ValueError("ATELIERS_SECRET_KEY is required outside development")
            self.secret_key = SecretStr(secrets.token_urlsafe(48))
            self._secret_key_generated = True
        key = self.secret_key.get_secret_value().encode()
        if hashlib.sha256(key).hexdigest() in _PUBLISHED_KEY_DIGESTS:
            raise ValueError("ATELIERS_SECRET_KEY is a published key; generate a new one")
        if self.env == "production" and len(key) < 32:
            raise ValueError("ATELIERS_SECRET_KEY must be at least 32 bytes in production")
        return self

    @model_validator(mode="after")
    def _password_hash_cost_fits_environment(self) -> "Settings":
        if self.password_hash_memory_kib < 8 * self.password_hash_parallelism:
            raise ValueError("ATELIERS_PASSWORD_HASH_MEMORY_KIB must be at least 8 per lane of parallelism")
        # OWASP's weakest Argon2id setting is 7 MiB for 5 passes: test parameters never reach production.
        memory, passes = self.password_hash_memory_kib, self.password_hash_time_cost
        if self.env == "production" and (memory < 7 * 1024 or memory * passes < 7 * 1024 * 5):
            raise ValueError(
                "ATELIERS_PASSWORD_HASH_MEMORY_KIB and _TIME_COST are below OWASP's weakest Argon2id "
                "setting (7168 KiB for 5 passes) in production"
            )
        return self

    @model_validator(mode="after")
    def _production_names_the_organisation(self) -> "Settings":
        # Documents are legal records: production prints the real identity, never a default.
        if self.env == "production":
            required = ("org_name", "org_address", "org_siret", "org_training_declaration")
            missing = [
                f"ATELIERS_{name.upper()}"
                for name in required
                if name not in self.model_fields_set or not str(getattr(self, name)).strip()
            ]
            if missing:
                raise ValueError(f"{', '.join(missing)} required in production")
        return self

    @property
    def signing_key(self) -> str:
        """The key that signs access tokens."""
        assert self.secret_key is not None  # set by the validator
        return self.secret_key.get_secret_value()

    @property
    def secret_key_generated(self) -> bool:
        """True when no key was configured and this process made a random one (development)."""
        return self._secret_key_generated

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]

    @property
    def public_url(self) -> str:
        """The service's public address, without a trailing slash."""
        return (self.public_base_url or f"https://{self.public_domain}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
