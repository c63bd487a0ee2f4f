"""Quote numbers under concurrent issues: gapless and never duplicated, through several connections
of one process and across processes, on SQLite and PostgreSQL."""

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from tests.conftest import CHEAP_PASSWORD_HASHING_ENV, TEST_SECRET_KEY, AppClient, _admin_connection
from tests.factories import insert_application, published_session

# Its bursts open dozens of PostgreSQL connections at once: the modules that do so share one worker
# (--dist loadgroup), so that two bursts never meet and exhaust the server's max_connections.
pytestmark = pytest.mark.xdist_group("connection_bursts")

QUOTES = 50
THREADS = 10


def _drafts(app: FastAPI, secretariat: TestClient, applicant: TestClient, count: int) -> list[int]:
    session = published_session(secretariat)
    application_id = insert_application(app, session_id=session["id"], applicant_id=applicant.user["id"])
    ids = []
    for _ in range(count):
        answer = secretariat.post(f"/applications/{application_id}/quotes")
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return ids


def _assert_numbered_once_each(numbers: list[str], count: int) -> None:
    parsed = [re.fullmatch(r"DEV-(\d{4})-(\d{4})", number) for number in numbers]
    assert all(parsed), numbers
    assert len({match.group(1) for match in parsed if match}) == 1, "one calendar year"
    assert sorted(int(match.group(2)) for match in parsed if match) == list(range(1, count + 1))


def test_concurrent_issues_through_several_connections_number_each_quote_once(
    app: FastAPI, secretariat: TestClient, applicant: TestClient
) -> None:
    drafts = _drafts(app, secretariat, applicant, QUOTES)
    token = secretariat.headers["Authorization"]
    clients = [AppClient(app) for _ in range(THREADS)]
    for client in clients:
        client.headers["Authorization"] = token

    def issue(index: int) -> httpx.Response:
        return clients[index % THREADS].post(f"/quotes/{drafts[index]}/issue")

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            answers = list(pool.map(issue, range(QUOTES)))
    finally:
        for client in clients:
            client.close()
    assert [answer.status_code for answer in answers] == [200] * QUOTES, [
        a.text for a in answers if a.status_code != 200
    ]
    _assert_numbered_once_each([answer.json()["number"] for answer in answers], QUOTES)
    stored = secretariat.get("/quotes", params={"status": "issued", "limit": 100}).json()
    assert sorted(q["number"] for q in stored["items"]) == sorted(
        answer.json()["number"] for answer in answers
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def two_servers(database_url: str, tmp_path) -> Iterator[list[str]]:
    """Two uvicorn processes serving the test's database."""
    env = {
        **os.environ,
        "ATELIERS_ENV": "test",
        "ATELIERS_SECRET_KEY": TEST_SECRET_KEY,
        "ATELIERS_DATABASE_URL": database_url,
        "ATELIERS_STORAGE_DIR": str(tmp_path),
        "ATELIERS_LOG_LEVEL": "WARNING",
        **CHEAP_PASSWORD_HASHING_ENV,
    }
    ports = [_free_port(), _free_port()]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base in bases:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)  # the server is still starting
            else:
                pytest.fail("uvicorn did not start")
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def test_concurrent_issues_across_processes_number_each_quote_once(
    app: FastAPI, secretariat: TestClient, applicant: TestClient, two_servers: list[str]
) -> None:
    drafts = _drafts(app, secretariat, applicant, QUOTES)
    # An API key: the servers run on the real clock, which the test's access tokens do not follow.
    minted = secretariat.post(
        "/auth/api-keys", json={"name": "race", "role": "secretariat", "expires_at": "2027-06-01T00:00:00Z"}
    )
    assert minted.status_code == 201, minted.text
    headers = {"Authorization": f"Bearer {minted.json()['key']}"}
    clients = [
        httpx.Client(base_url=f"{two_servers[i % 2]}/api/v1", headers=headers, timeout=30)
        for i in range(THREADS)
    ]

    def issue(index: int) -> httpx.Response:
        return clients[index % THREADS].post(f"/quotes/{drafts[index]}/issue")

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            answers = list(pool.map(issue, range(QUOTES)))
    finally:
        for client in clients:
            client.close()
    assert [answer.status_code for answer in answers] == [200] * QUOTES, [
        a.text for a in answers if a.status_code != 200
    ]
    _assert_numbered_once_each([answer.json()["number"] for answer in answers], QUOTES)


def _waiting_on_a_lock(admin: psycopg.Connection, database: str | None) -> int:
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", (database,)
    ).fetchone()
    return int(row[0]) if row else 0


def test_an_issue_racing_a_withdrawal_that_commits_first_is_invalid_transition_and_takes_no_number(
    app: FastAPI, secretariat: TestClient, applicant: TestClient, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one write transaction at a time: there is no race to lose")
    session = published_session(secretariat)
    application_id = insert_application(app, session_id=session["id"], applicant_id=applicant.user["id"])
    draft = secretariat.post(f"/applications/{application_id}/quotes").json()
    database = make_url(database_url).database
    plain_url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    headers = {"Authorization": secretariat.headers["Authorization"]}
    with (
        _admin_connection(database_url) as watcher,
        psycopg.connect(plain_url) as withdrawal,
        ThreadPoolExecutor(1) as issuer,
    ):
        # A withdrawal under way: the application's row is changed, not yet committed.
        withdrawal.execute("UPDATE application SET status = 'withdrawn' WHERE id = %s", (application_id,))
        issue = issuer.submit(secretariat.post, f"/quotes/{draft['id']}/issue", headers=headers)
        deadline = time.monotonic() + 10
        while not _waiting_on_a_lock(watcher, database) and not issue.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        withdrawal.commit()
        answer = issue.result(timeout=30)
    assert (answer.status_code, answer.json()["code"]) == (409, "invalid_transition"), answer.text
    assert secretariat.get(f"/quotes/{draft['id']}").json() == draft
    # No number was consumed: the next issue of the year is the first.
    other = insert_application(app, session_id=published_session(secretariat, title="Autre")["id"],
                               applicant_id=applicant.user["id"])  # fmt: skip
    next_draft = secretariat.post(f"/applications/{other}/quotes").json()
    assert secretariat.post(f"/quotes/{next_draft['id']}/issue").json()["number"].endswith("-0001")
