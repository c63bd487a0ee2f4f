"""The `ateliers` command line, run as an operator would, against the test's database."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from api.cli import main
from api.clock import FixedClock
from api.config import Settings, get_settings
from api.db.engine import build_engine, open_session
from models.discount import Discount
from tests.conftest import CHEAP_PASSWORD_HASHING_ENV, TEST_SECRET_KEY


@pytest.fixture
def ateliers(database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch):
    """Run `ateliers ARGS...` with the environment aimed at this test's database."""
    monkeypatch.setenv("ATELIERS_ENV", "test")
    monkeypatch.setenv("ATELIERS_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("ATELIERS_DATABASE_URL", database_url)
    monkeypatch.setenv("ATELIERS_STORAGE_DIR", str(tmp_path))
    for name, value in CHEAP_PASSWORD_HASHING_ENV.items():
        monkeypatch.setenv(name, value)
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


def test_seed_demo_loads_the_brochure_session_in_its_own_words(ateliers, anonymous: TestClient) -> None:
    assert ateliers(["seed-demo"]) == 0
    first = anonymous.get("/sessions/les-ateliers-des-cultures-numeriques-1").json()

    assert first["title"] == "Les ateliers des cultures numériques #1"
    assert first["subtitle"] == "Projets culturels de territoire à l’ère du numérique"
    assert first["summary"].startswith("Cette session de formation aborde le numérique du point de vue")
    assert "Formation organisée par l’Observatoire des politiques culturelles" in first["description"]
    assert first["objectives"][0] == (
        "Repenser les projets culturels de territoire et les politiques culturelles à l’ère du numérique"
    )
    assert len(first["objectives"]) == 5
    assert first["audiences"][0] == "Professionnels de la culture" and first["audiences"][-1] == "Artistes"
    assert len(first["topics"]) == 10 and "Cultures libres" in first["topics"]
    assert "Dossier documentaire" in first["methods"]
    assert first["price_excludes"] == ["déplacement", "repas", "hébergement"]
    assert (first["contact_email"], first["contact_phone"]) == (
        "formations@observatoire-culture.net",
        "+33 (0)4 76 44 33 26",
    )
    assert (first["start_date"], first["end_date"], first["days"], first["hours"]) == (
        "2016-03-07",
        "2016-03-12",
        6,
        45,
    )
    assert (first["price_cents"], first["currency"], first["capacity"]) == (200_000, "EUR", 25)
    assert (first["application_deadline"], first["postmark_counts"]) == ("2016-02-18", True)
    assert (first["status"], first["open_for_applications"]) == ("completed", False)

    following = anonymous.get("/sessions/les-ateliers-des-cultures-numeriques-2").json()
    assert (following["status"], following["open_for_applications"]) == ("published", True)
    assert following["start_date"] > date.today().isoformat()
    programme = ("subtitle", "summary", "description", "objectives", "audiences", "topics", "methods")
    assert {key: following[key] for key in programme} == {key: first[key] for key in programme}


def _discounts(database_url: str) -> list[dict]:
    engine = build_engine(Settings(env="test", database_url=database_url, secret_key=TEST_SECRET_KEY))
    try:
        with open_session(engine, write=False) as db:
            rows = db.exec(select(Discount).order_by(col(Discount.code))).all()
            return [row.model_dump() for row in rows]
    finally:
        engine.dispose()


def test_seed_demo_loads_the_brochure_discounts_once(ateliers, database_url: str) -> None:
    assert ateliers(["seed-demo"]) == 0
    first = _discounts(database_url)
    assert ateliers(["seed-demo"]) == 0

    assert _discounts(database_url) == first
    assert [d["code"] for d in first] == ["ABONNE-IDEOTHEQUE", "ANCIENS"]
    for discount in first:
        assert discount["percent"] == Decimal("10") and discount["amount_cents"] is None
        assert discount["requires_proof"] and discount["active"] and discount["session_id"] is None
        assert "peuvent bénéficier d’une réduction de 10 %" in discount["eligibility"]
        assert "Non cumulable" in discount["eligibility"]
    assert "abonnés à l’Idéothèque" in first[0]["eligibility"]
    assert "anciens stagiaires de l’OPC (adhérents à l’association Réseau)" in first[1]["eligibility"]


def test_the_organisation_defaults_are_the_brochure_s(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NAME", "ADDRESS", "EMAIL", "PHONE", "SIRET", "TRAINING_DECLARATION"):
        monkeypatch.delenv(f"ATELIERS_ORG_{name}", raising=False)
    settings = Settings(_env_file=None, env="test", secret_key=TEST_SECRET_KEY)
    assert settings.org_name == "Observatoire des politiques culturelles"
    assert settings.org_address == "1, rue du Vieux Temple, 38000 Grenoble"
    assert (settings.org_email, settings.org_phone) == (
        "formations@observatoire-culture.net",
        "+33 (0)4 76 44 33 26",
    )
    assert (settings.org_siret, settings.org_training_declaration) == ("", "")
