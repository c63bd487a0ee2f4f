"""Health checks, the database going away, request ids and logs, security headers."""

import json
import logging
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from api.security import create_access_token
from tests.conftest import TEST_SECRET_KEY, AppClient, is_served, serving


@contextmanager
def _root(app) -> Iterator[TestClient]:
    """A client of `app` at the root of its paths, the app served until the block ends unless it
    already is (the `app` fixture's)."""
    with ExitStack() as started:
        if not is_served(app):
            started.enter_context(serving(app))
        yield AppClient(app, base_url="http://testserver")


def test_healthz_answers_while_the_process_lives(app) -> None:
    with _root(app) as client:
        answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_readyz_is_ok_with_a_reachable_database(app) -> None:
    with _root(app) as client:
        assert client.get("/readyz").json() == {"status": "ok"}


def _unreachable(tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        secret_key=TEST_SECRET_KEY,
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
        database_timeout_seconds=1,
        storage_dir=str(tmp_path),
    )


def test_unreachable_database_is_503_database_unavailable(tmp_path: Path) -> None:
    settings = _unreachable(tmp_path)
    app = create_app(settings)
    token, _ = create_access_token(
        settings, user_id=1, role="applicant", token_version=0, now=datetime.now(UTC)
    )
    # In the client's context the lifespan ran: its loop reads rows without blocking (api/db/row_reader.py).
    with _root(app) as client:
        ready = client.get("/readyz")
        listing = client.get("/api/v1/sessions")
        login = client.post("/api/v1/auth/token", data={"username": "a@b.org", "password": "whatever-123"})
        own = client.get("/api/v1/applications", headers={"Authorization": f"Bearer {token}"})
    for answer in (ready, listing, login, own):
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "database_unavailable"


def test_service_recovers_when_the_database_comes_back(tmp_path: Path, template_database: str) -> None:
    if not template_database.startswith("sqlite"):
        return  # the same path on PostgreSQL is the pool's pre-ping, covered by the 503 test above
    folder = tmp_path / "later"
    settings = Settings(
        env="test",
        secret_key=TEST_SECRET_KEY,
        database_url=f"sqlite:///{folder}/ateliers.db",
        database_timeout_seconds=1,
        storage_dir=str(tmp_path),
    )
    app = create_app(settings)
    with _root(app) as client:
        assert client.get("/api/v1/sessions").status_code == 503
        folder.mkdir()
        shutil.copyfile(template_database.removeprefix("sqlite:///"), folder / "ateliers.db")
        assert client.get("/api/v1/sessions").status_code == 200
        assert client.get("/readyz").status_code == 200


def test_every_answer_carries_security_headers_and_a_request_id(anonymous: TestClient) -> None:
    for answer in (anonymous.get("/sessions"), anonymous.get("/nowhere"), anonymous.post("/sessions")):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert len(answer.headers["x-request-id"]) >= 16


def test_a_given_request_id_is_echoed_and_a_bad_one_replaced(anonymous: TestClient) -> None:
    assert (
        anonymous.get("/sessions", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    )
    replaced = anonymous.get("/sessions", headers={"X-Request-ID": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"


def test_one_json_log_line_per_request(tmp_path: Path, database_url: str, capsys) -> None:
    settings = Settings(
        env="test",
        secret_key=TEST_SECRET_KEY,
        database_url=database_url,
        storage_dir=str(tmp_path),
        log_format="json",
    )
    app = create_app(settings)
    with TestClient(app, base_url="http://testserver/api/v1") as client:
        client.get("/sessions?city=Paris", headers={"X-Request-ID": "log-me-1"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if '"log-me-1"' in line]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/v1/sessions"
    assert entry["status"] == 200
    assert entry["duration_ms"] >= 0
    # Leave the text format for the other tests.
    logging.getLogger("ateliers").handlers.clear()


def test_head_answers_like_get_without_a_body(anonymous: TestClient) -> None:
    get = anonymous.get("/sessions")
    head = anonymous.head("/sessions")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-length"] == get.headers["content-length"]
    assert anonymous.head("/sessions", headers={"If-None-Match": get.headers["etag"]}).status_code == 304
