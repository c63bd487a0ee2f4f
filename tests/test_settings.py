"""The service refuses to start with a secret that does not fit its environment, and never prints it."""

import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from api.config import Settings
from api.security import Passwords

# The foundation's development default: it is in this repository's history, so it is refused.
PUBLISHED_KEY = "development-only-secret-key-do-not-use-in-production"
# What production must be told about the organisation that its documents name (SIRET of a real body's
# published example, valid by its checksum).
PRODUCTION_ORG: dict[str, Any] = {
    "org_name": "Observatoire des politiques culturelles",
    "org_address": "1, rue du Vieux Temple, 38000 Grenoble",
    "org_siret": "73282932000074",
    "org_training_declaration": "82 38 00000 38",
}
PRODUCTION_ORG_ENV = {f"ATELIERS_{name.upper()}": value for name, value in PRODUCTION_ORG.items()}


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
        Settings(env=env, secret_key=PUBLISHED_KEY, **PRODUCTION_ORG)


def test_production_refuses_a_short_key_without_printing_it() -> None:
    with pytest.raises(ValidationError, match="32 bytes") as refused:
        Settings(env="production", secret_key="too-short-XYZ-123", **PRODUCTION_ORG)
    assert "XYZ" not in str(refused.value) and "too-short" not in str(refused.value)
    assert Settings(env="production", secret_key="k" * 32, **PRODUCTION_ORG).env == "production"


def test_a_refused_production_start_prints_no_part_of_the_key(tmp_path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "ATELIERS_ENV": "production",
        "ATELIERS_SECRET_KEY": "short-Zq9-secret",
        "ATELIERS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        **PRODUCTION_ORG_ENV,
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
    for name, value in PRODUCTION_ORG_ENV.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.env, settings.database_url) == ("production", "postgresql+psycopg://u@h/db")
    assert settings.trusted_proxy_list == ["10.0.0.0/8", "192.0.2.7"]


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(ValidationError, match="not an address"):
        Settings(env="development", trusted_proxies="10.0.0.1, proxy.internal")
    assert Settings(env="development").trusted_proxy_list == []


def test_production_refuses_to_start_without_the_organisation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATELIERS_ORG_SIRET", "")  # an empty variable is no identity either
    for missing in PRODUCTION_ORG:
        given = {name: value for name, value in PRODUCTION_ORG.items() if name != missing}
        with pytest.raises(ValidationError, match=f"ATELIERS_{missing.upper()}.* required in production"):
            Settings(env="production", secret_key="k" * 40, **given)
    # Development and tests print what the defaults give, leaving out what is unknown.
    development = Settings(env="development")
    assert development.org_siret == "" and development.org_training_declaration == ""


def test_production_reads_the_organisation_from_ateliers_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**PRODUCTION_ORG_ENV, "ATELIERS_ORG_SIRET": "732 829 320 00074"}.items():
        monkeypatch.setenv(name, value)
    settings = Settings(env="production", secret_key="k" * 40)
    assert settings.org_name == "Observatoire des politiques culturelles"
    assert settings.org_siret == "732 829 320 00074"


@pytest.mark.parametrize("value", ["73282932000075", "1234", "siret-inconnu", "7328293200007412"])
def test_an_invalid_siret_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="not a valid SIRET"):
        Settings(env="development", org_siret=value)


def test_a_valid_siret_is_kept_in_its_printed_form() -> None:
    assert Settings(env="development", org_siret="73282932000074").org_siret == "732 829 320 00074"


# The cost of password hashes


def test_a_deployment_that_names_no_hashing_cost_gets_owasps_argon2id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("TIME_COST", "MEMORY_KIB", "PARALLELISM"):
        monkeypatch.delenv(f"ATELIERS_PASSWORD_HASH_{name}", raising=False)
    settings = Settings(env="production", secret_key="k" * 40, _env_file=None, **PRODUCTION_ORG)
    costs = (
        settings.password_hash_time_cost,
        settings.password_hash_memory_kib,
        settings.password_hash_parallelism,
    )
    assert costs == (2, 19456, 1)
    assert (
        Passwords.from_settings(settings).hash("a passphrase").startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    )


@pytest.mark.parametrize("time_cost, memory_kib", [(1, 8), (1, 19456), (5, 7167)])
def test_production_refuses_a_hashing_cost_below_owasps_weakest(time_cost: int, memory_kib: int) -> None:
    with pytest.raises(ValidationError, match="below OWASP"):
        Settings(
            env="production",
            secret_key="k" * 40,
            password_hash_time_cost=time_cost,
            password_hash_memory_kib=memory_kib,
            **PRODUCTION_ORG,
        )
    weakest = Settings(
        env="production",
        secret_key="k" * 40,
        password_hash_time_cost=5,
        password_hash_memory_kib=7168,
        **PRODUCTION_ORG,
    )
    assert weakest.env == "production"


def test_a_hash_is_verified_at_the_cost_it_was_made_with() -> None:
    strong = Passwords(time_cost=2, memory_kib=19456, parallelism=1)
    cheap = Passwords(time_cost=1, memory_kib=8, parallelism=1)
    made_strong, made_cheap = strong.hash("a passphrase"), cheap.hash("a passphrase")
    assert made_cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert cheap.verify("a passphrase", made_strong) and strong.verify("a passphrase", made_cheap)
    assert not cheap.verify("another passphrase", made_strong)


def test_the_memory_cost_must_hold_8_kib_per_lane() -> None:
    with pytest.raises(ValidationError, match="8 per lane"):
        Settings(env="development", password_hash_memory_kib=8, password_hash_parallelism=2)
