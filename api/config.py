"""Settings, read from ATELIERS_* environment variables."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="ATELIERS_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./ateliers.db"
    secret_key: str = DEVELOPMENT_SECRET_KEY
    storage_dir: str = "./storage"
    smtp_url: str | None = None
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"

    jwt_issuer: str = "ateliers"
    jwt_audience: str = "ateliers-api"
    access_token_minutes: int = Field(default=15, ge=1, le=1440)
    refresh_token_days: int = Field(default=30, ge=1, le=365)

    max_body_bytes: int = Field(default=6 * 1024 * 1024, ge=1024)
    # A request head must fit in this and arrive in this time (api/server.py, under `ateliers serve`).
    max_header_bytes: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    header_timeout_seconds: float = Field(default=10, ge=0.5, le=300)
    # A body must keep coming, and come whole in this plus its length at the rate below.
    body_timeout_seconds: float = Field(default=10, ge=0.5, le=300)
    body_min_bytes_per_second: int = Field(default=64 * 1024, ge=1024)
    login_attempts_limit: int = Field(default=10, ge=1)
    login_attempts_window_minutes: int = Field(default=15, ge=1)
    database_timeout_seconds: int = Field(default=3, ge=1, le=60)

    webhook_allow_private: bool = False

    # Names this service in identifiers that must not depend on the Host header (calendar UIDs).
    public_domain: str = "ateliers.example"

    org_name: str = "Ateliers - formation continue"
    org_address: str = "Paris, France"
    org_email: str = "secretariat@ateliers.example"
    org_phone: str = "+33 1 00 00 00 00"
    org_siret: str = ""
    org_training_declaration: str = ""

    @model_validator(mode="after")
    def _secret_key_fits_environment(self) -> "Settings":
        if self.env != "development" and self.secret_key == DEVELOPMENT_SECRET_KEY:
            raise ValueError("ATELIERS_SECRET_KEY is required outside development")
        if self.env == "production" and len(self.secret_key.encode()) < 32:
            raise ValueError("ATELIERS_SECRET_KEY must be at least 32 bytes in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
