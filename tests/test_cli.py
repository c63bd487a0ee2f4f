"""The `ateliers` command line, run as an operator would, against the test's database."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.cli import main
from api.clock import FixedClock
from api.config import get_settings
from tests.conftest import TEST_SECRET_KEY


@pytest.fixture
def ateliers(database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch):
    """Run `ateliers ARGS...` with the environment aimed at this test's database."""
    monkeypatch.setenv("ATELIERS_ENV", "test")
    monkeypatch.setenv("ATELIERS_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("ATELIERS_DATABASE_URL", database_url)
    monkeypatch.setenv("ATELIERS_STORAGE_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield main
    get_settings.cache_clear()


def _log_in(client: TestClient, email: str, password: str):
    return client.post("/auth/token", data={"username": email, "password": password})


def test_create_user_makes_an_account_that_can_log_in(ateliers, anonymous: TestClient, capsys) -> None:
    argv = ["create-user", "--email", "Ada@Example.org", "--password", "une longue phrase"]
    assert ateliers([*argv, "--full-name", "Ada Lovelace", "--role", "secretariat"]) == 0
    assert "created secretariat ada@example.org" in capsys.readouterr().out
    token = _log_in(anonymous, "ada@example.org", "une longue phrase").json()["access_token"]
    me = anonymous.get("/users/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["role"], me["full_name"]) == ("secretariat", "Ada Lovelace")


def test_create_user_refuses_a_taken_email_in_one_line(ateliers, capsys) -> None:
    argv = ["create-user", "--email", "ada@example.org", "--password", "une longue phrase"]
    argv += ["--full-name", "Ada", "--role", "trainer"]
    assert ateliers(argv) == 0
    assert ateliers(argv) == 1
    assert "already uses ada@example.org" in capsys.readouterr().err


def test_seed_demo_prints_working_accounts_and_runs_twice(ateliers, anonymous: TestClient, capsys) -> None:
    assert ateliers(["seed-demo"]) == 0
    first = anonymous.get("/sessions").json()
    assert ateliers(["seed-demo"]) == 0
    assert anonymous.get("/sessions").json() == first
    assert [s["slug"] for s in first["items"]] == [
        "les-ateliers-des-cultures-numeriques-1",
        "les-ateliers-des-cultures-numeriques-2",
    ]
    printed = capsys.readouterr().out
    assert "secretariat@ateliers.example" in printed
    assert _log_in(anonymous, "secretariat@ateliers.example", "demo-secretariat-2016").status_code == 200


def test_worker_purges_failed_logins_and_dead_refresh_tokens(
    ateliers, anonymous: TestClient, applicant: TestClient, clock: FixedClock, capsys
) -> None:
    # Everything below happens long before the worker's real clock: all of it is spent by then.
    clock.set(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    email = applicant.user["email"]
    expired_family = _log_in(anonymous, email, "correct horse battery staple").json()["refresh_token"]
    for _ in range(10):
        _log_in(anonymous, email, "not the password")
    assert _log_in(anonymous, email, "correct horse battery staple").status_code == 429

    assert ateliers(["worker", "--once"]) == 0

    assert "purged 10 login attempts, 1 refresh tokens" in capsys.readouterr().out
    assert _log_in(anonymous, email, "correct horse battery staple").status_code == 200
    assert anonymous.post("/auth/refresh", json={"refresh_token": expired_family}).status_code == 401
    # The applicant's own login, still live, was kept.
    assert (
        anonymous.post("/auth/refresh", json={"refresh_token": applicant.tokens["refresh_token"]}).status_code
        == 200
    )
