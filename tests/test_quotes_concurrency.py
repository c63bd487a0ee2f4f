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
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import TEST_SECRET_KEY
from tests.factories import insert_application, published_session

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
    clients = [
        TestClient(app, base_url="http://testserver/api/v1", raise_server_exceptions=False)
        for _ in range(THREADS)
    ]
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
