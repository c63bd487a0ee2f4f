"""The service refuses to start with a secret that does not fit its environment, and never prints it."""

import subprocess
import sys

import pytest
from pydantic import ValidationError

from api.config import Settings

# The foundation's development default: it is in this repository's history, so it is refused.
PUBLISHED_KEY = "development-only-secret-key-do-not-use-in-production"


def test_development_without_a_key_makes_a_random_one() -> None:
    first, second = Settings(env="development"), Settings(env="development")
    assert first.secret_key_generated and second.secret_key_generated
    assert len(first.signing_key) >= 32
    assert first.signing_key != second.signing_key


def test_a_configured_key_is_used_as_given() -> None:
    settings = Settings(env="development", secret_key="k" * 40)
    assert settings.signing_key == "k" * 40
    assert not settings.secret_key_generated


@pytest.mark.parametrize("env", ["test", "production"])
def test_secret_key_is_required_outside_development(env: str) -> None:
    with pytest.raises(ValidationError, match="ATELIERS_SECRET_KEY is required"):
        Settings(env=env)
    with pytest.raises(ValidationError, match="ATELIERS_SECRET_KEY is required"):
        Settings(env=env, secret_key="")


@pytest.mark.parametrize("env", ["development", "test", "production"])
def test_the_published_development_key_is_refused_everywhere(env: str) -> None:
    with pytest.raises(ValidationError, match="published key"):
        Settings(env=env, secret_key=PUBLISHED_KEY)


def test_production_refuses_a_short_key_without_printing_it() -> None:
    with pytest.raises(ValidationError, match="32 bytes") as refused:
        Settings(env="production", secret_key="too-short-XYZ-123")
    assert "XYZ" not in str(refused.value) and "too-short" not in str(refused.value)
    assert Settings(env="production", secret_key="k" * 32).env == "production"


def test_a_refused_production_start_prints_no_part_of_the_key(tmp_path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "ATELIERS_ENV": "production",
        "ATELIERS_SECRET_KEY": "short-Zq9-secret",
        "ATELIERS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
    }
    started = subprocess.run(
        [sys.executable, "-m", "api.cli", "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode != 0
    assert "32 bytes" in started.stderr
    for part in ("Zq9", "short-", "secret"):
        assert part not in started.stdout + started.stderr.replace("ATELIERS_SECRET_KEY", "")


def test_settings_come_from_ateliers_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATELIERS_ENV", "production")
    monkeypatch.setenv("ATELIERS_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("ATELIERS_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("ATELIERS_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7")
    settings = Settings()
    assert (settings.env, settings.database_url) == ("production", "postgresql+psycopg://u@h/db")
    assert settings.trusted_proxy_list == ["10.0.0.0/8", "192.0.2.7"]


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(ValidationError, match="not an address"):
        Settings(env="development", trusted_proxies="10.0.0.1, proxy.internal")
    assert Settings(env="development").trusted_proxy_list == []
