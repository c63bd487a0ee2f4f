"""The service refuses to start with a secret that does not fit its environment."""

import pytest
from pydantic import ValidationError

from api.config import DEVELOPMENT_SECRET_KEY, Settings


def test_development_runs_with_the_development_key() -> None:
    assert Settings(env="development").secret_key == DEVELOPMENT_SECRET_KEY


@pytest.mark.parametrize("env", ["test", "production"])
def test_secret_key_is_required_outside_development(env: str) -> None:
    with pytest.raises(ValidationError, match="ATELIERS_SECRET_KEY"):
        Settings(env=env, secret_key=DEVELOPMENT_SECRET_KEY)


def test_production_refuses_a_short_key() -> None:
    with pytest.raises(ValidationError, match="32 bytes"):
        Settings(env="production", secret_key="too-short-for-production")
    assert Settings(env="production", secret_key="k" * 32).env == "production"


def test_settings_come_from_ateliers_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATELIERS_ENV", "production")
    monkeypatch.setenv("ATELIERS_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("ATELIERS_DATABASE_URL", "postgresql+psycopg://u@h/db")
    settings = Settings()
    assert (settings.env, settings.database_url) == ("production", "postgresql+psycopg://u@h/db")
