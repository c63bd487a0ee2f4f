"""The hot writes (submission, quote issue), where `ateliers serve` runs them.

Every test runs the app's lifespan, so every request runs on the server's loop: on PostgreSQL the
hot writes run there on asynchronous connections of their own (`WriteRunner`,
api/db/transactions.py), first come first served; on SQLite on write threads. The rules must hold
on both: one live application per applicant under a race, every refusal rolled back, quote numbers
without gaps, a dropped connection never met by a request, a database that refuses connections
answered 503 with nothing changed, and no handler that runs its own writes able to take the
request's session too.
"""

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import httpx
import psycopg
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from api.clock import FixedClock
from api.config import Settings
from api.db.transactions import WRITE_CONNECTIONS_NAME
from api.deps import DbSession, HotWrites
from api.edge.body_limits import BoundedBodyRoute
from api.main import create_app
from tests.conftest import AppClient, UserFactory, _admin_connection, _with_database, serving
from tests.factories import (
    application_payload,
    insert_application,
    paper_payload,
    published_session,
    session_payload,
)

APPLICANTS = 6
TRIES = 4


@pytest.fixture
def server(app: FastAPI) -> Iterator[TestClient]:
    """A client without credentials of its own: each call says who sends it."""
    with AppClient(app) as client:
        yield client


@pytest.fixture
def postgresql_url(database_url: str) -> str:
    """This test's database, on PostgreSQL only: SQLite has no server connections to drop or count."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server connections")
    return database_url


def _server_connection(database_url: str) -> psycopg.Connection:
    """A connection to PostgreSQL's own database, from which this test's database can be altered."""
    return _admin_connection(_with_database(database_url, "postgres"))


def _write_connections(database_url: str, *, terminate: bool = False) -> int:
    """How many connections of the hot writes PostgreSQL has open on this test's database; with
    `terminate`, each is first closed under them, as a restart of PostgreSQL does."""
    counted = "count(*) FILTER (WHERE pg_terminate_backend(pid))" if terminate else "count(*)"
    with _server_connection(database_url) as admin:
        row = admin.execute(
            f"SELECT {counted} FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            (make_url(database_url).database, WRITE_CONNECTIONS_NAME),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _apply_through(
    server: TestClient, session_id: int | str, applicant: TestClient, body: dict[str, object] | None = None
) -> httpx.Response:
    """`applicant` applies to the session through the server's loop."""
    return server.post(
        f"/sessions/{session_id}/applications",
        json=body or application_payload(),
        headers={"Authorization": applicant.headers["Authorization"]},
    )


def _as_seen(answer: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    """What a prober compares: status, headers (but the request's own id and date) and body."""
    headers = {name: value for name, value in answer.headers.items() if name not in {"date", "x-request-id"}}
    return answer.status_code, headers, answer.content


def _issue_through(server: TestClient, quote_id: int, caller: TestClient | None) -> httpx.Response:
    """`caller` (None: nobody) issues the quote through the server's loop."""
    headers = {} if caller is None else {"Authorization": caller.headers["Authorization"]}
    return server.post(f"/quotes/{quote_id}/issue", headers=headers)


def test_applicants_racing_on_the_servers_loop_get_one_application_each_and_refusals_store_nothing(
    server: TestClient, make_user: UserFactory, secretariat: TestClient, database_url: str
) -> None:
    session = published_session(secretariat)
    applicants = [make_user("applicant") for _ in range(APPLICANTS)]
    late = make_user("applicant")
    bodies = [application_payload()] * TRIES
    attempts = [(client, body) for client in applicants for body in bodies]
    # One more applicant names a discount that does not exist: refused, so rolled back, each time.
    attempts += [(late, application_payload(discount_code="NOPE-2027"))] * TRIES
    start = threading.Barrier(len(attempts))

    def submit(attempt: tuple[TestClient, dict[str, object]]) -> tuple[int, httpx.Response]:
        client, body = attempt
        start.wait()
        return client.user["id"], _apply_through(server, session["id"], client, body)

    with ThreadPoolExecutor(len(attempts)) as racers:
        answers = list(racers.map(submit, attempts))

    outcomes = Counter(
        (user_id, answer.status_code, answer.json().get("code", "")) for user_id, answer in answers
    )
    expected = Counter({(client.user["id"], 201, ""): 1 for client in applicants})
    expected.update({(client.user["id"], 409, "already_applied"): TRIES - 1 for client in applicants})
    expected[(late.user["id"], 422, "unknown_discount")] = TRIES
    assert outcomes == expected
    # Each answer is what its owner then reads, and the secretariat lists exactly those.
    created = {answer.json()["id"]: answer.json() for _, answer in answers if answer.status_code == 201}
    by_owner = {client.user["id"]: client for client in applicants}
    for application in created.values():
        owner = by_owner[application["applicant"]["id"]]
        assert owner.get(f"/applications/{application['id']}").json() == application
    listed = secretariat.get("/applications", params={"session_id": session["id"], "limit": 100}).json()
    assert sorted(item["id"] for item in listed["items"]) == sorted(created)
    assert late.get("/applications").json()["total"] == 0
    if database_url.startswith("postgresql"):
        assert _write_connections(database_url) >= 1, "the writes ran on the server's loop"


def test_quote_issues_racing_on_the_servers_loop_are_numbered_once_each_without_gaps(
    app: FastAPI, server: TestClient, secretariat: TestClient, applicant: TestClient
) -> None:
    session = published_session(secretariat)
    application_id = insert_application(app, session_id=session["id"], applicant_id=applicant.user["id"])
    drafts = [secretariat.post(f"/applications/{application_id}/quotes").json()["id"] for _ in range(30)]
    as_secretariat = {"Authorization": secretariat.headers["Authorization"]}
    issues = [*drafts, drafts[0], drafts[1]]  # two quotes issued twice: one of each pair is refused

    with ThreadPoolExecutor(12) as racers:
        answers = list(
            racers.map(lambda quote: server.post(f"/quotes/{quote}/issue", headers=as_secretariat), issues)
        )

    assert Counter(answer.status_code for answer in answers) == {200: 30, 409: 2}
    numbers = sorted(answer.json()["number"] for answer in answers if answer.status_code == 200)
    year = numbers[0][4:8]
    assert numbers == [f"DEV-{year}-{n:04d}" for n in range(1, 31)]
    stored = secretariat.get("/quotes", params={"status": "issued", "limit": 100}).json()
    assert sorted(quote["number"] for quote in stored["items"]) == numbers
    # The applicant reads each issued quote as the issue answered it.
    for answer in answers:
        if answer.status_code == 200:
            assert applicant.get(f"/quotes/{answer.json()['id']}").json() == answer.json()


def test_write_connections_postgresql_dropped_are_replaced_before_a_submission_meets_them(
    server: TestClient, make_user: UserFactory, secretariat: TestClient, postgresql_url: str
) -> None:
    session = published_session(secretariat)
    first, second = make_user("applicant"), make_user("applicant")
    assert _apply_through(server, session["id"], first).status_code == 201
    assert _write_connections(postgresql_url, terminate=True) >= 1
    answer = _apply_through(server, session["id"], second)
    assert answer.status_code == 201, answer.text
    assert second.get(f"/applications/{answer.json()['id']}").status_code == 200


def test_the_lifespans_end_closes_the_write_connections(
    settings: Settings, clock: FixedClock, applicant: TestClient, secretariat: TestClient, postgresql_url: str
) -> None:
    session = published_session(secretariat)
    before = _write_connections(postgresql_url)  # the logins' of this test's own app
    other = create_app(settings, clock=clock)
    with serving(other) as server:
        answer = _apply_through(server, session["id"], applicant)
        assert answer.status_code == 201, answer.text
        assert _write_connections(postgresql_url) > before
    # Closed from the client's side: PostgreSQL's backends then end on their own, a moment later.
    deadline = time.monotonic() + 10
    while _write_connections(postgresql_url) > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _write_connections(postgresql_url) == before
    assert applicant.get(f"/applications/{answer.json()['id']}").status_code == 200


def test_a_quote_issue_while_postgresql_refuses_connections_is_503_and_changes_nothing(
    app: FastAPI, server: TestClient, secretariat: TestClient, applicant: TestClient, postgresql_url: str
) -> None:
    session = published_session(secretariat)
    application_id = insert_application(app, session_id=session["id"], applicant_id=applicant.user["id"])
    first, second = (secretariat.post(f"/applications/{application_id}/quotes").json() for _ in range(2))
    as_secretariat = {"Authorization": secretariat.headers["Authorization"]}
    assert server.post(f"/quotes/{first['id']}/issue", headers=as_secretariat).status_code == 200
    database = make_url(postgresql_url).database
    with _server_connection(postgresql_url) as admin:
        # The write connections are gone and no new one is let in; the credential's reads still are.
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        try:
            assert _write_connections(postgresql_url, terminate=True) >= 1
            refused = server.post(f"/quotes/{second['id']}/issue", headers=as_secretariat)
        finally:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "database_unavailable"
    assert secretariat.get(f"/quotes/{second['id']}").json() == second
    # Once PostgreSQL takes connections again, the next issue numbers the quote after the first.
    issued = server.post(f"/quotes/{second['id']}/issue", headers=as_secretariat)
    assert issued.status_code == 200, issued.text
    assert issued.json()["number"].endswith("-0002")


def test_roles_refused_on_the_servers_loop_are_refused_as_elsewhere_and_change_nothing(
    app: FastAPI, server: TestClient, make_user: UserFactory, secretariat: TestClient, applicant: TestClient
) -> None:
    session = published_session(secretariat)
    trainer, stranger = make_user("trainer"), make_user("applicant")
    # A trainer does not apply; the secretariat records paper files, not online applications.
    assert _apply_through(server, session["id"], trainer).json()["code"] == "forbidden"
    refused = _apply_through(server, session["id"], secretariat)
    assert (refused.status_code, refused.json()["code"]) == (422, "validation_error")
    listed = secretariat.get("/applications", params={"session_id": session["id"]}).json()
    assert listed["total"] == 0
    application_id = insert_application(app, session_id=session["id"], applicant_id=applicant.user["id"])
    draft = secretariat.post(f"/applications/{application_id}/quotes").json()
    outcomes = {
        # Its owner may read the quote but not issue it; anyone else's is not found; no token, 401.
        "owner": _issue_through(server, draft["id"], applicant),
        "stranger": _issue_through(server, draft["id"], stranger),
        "trainer": _issue_through(server, draft["id"], trainer),
        "anonymous": _issue_through(server, draft["id"], None),
    }
    assert {who: (a.status_code, a.json()["code"]) for who, a in outcomes.items()} == {
        "owner": (403, "forbidden"),
        "stranger": (404, "not_found"),
        "trainer": (404, "not_found"),
        "anonymous": (401, "unauthorized"),
    }
    assert secretariat.get(f"/quotes/{draft['id']}").json() == draft
    issued = _issue_through(server, draft["id"], secretariat)
    assert issued.status_code == 200 and issued.json()["number"].endswith("-0001"), issued.text


def test_applying_on_the_servers_loop_to_a_hidden_session_is_not_found_like_an_unknown_one(
    server: TestClient, secretariat: TestClient, applicant: TestClient, database_url: str
) -> None:
    draft = secretariat.post("/sessions", json=session_payload()).json()
    cancelled = published_session(secretariat)
    assert secretariat.post(f"/sessions/{cancelled['id']}/cancel").status_code == 200
    for session in (draft, cancelled):
        for ref, unknown in ((session["id"], 999_999), (session["slug"], "no-such-session")):
            hidden = _apply_through(server, ref, applicant)
            absent = _apply_through(server, unknown, applicant)
            assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")
            assert _as_seen(hidden) == _as_seen(absent)
    # The secretariat sees the cancelled session: a paper file to it is refused as not open.
    paper = paper_payload(applicant.user["id"], "2027-01-14")
    as_secretariat = {"Authorization": secretariat.headers["Authorization"]}
    refused = server.post(f"/sessions/{cancelled['id']}/applications", json=paper, headers=as_secretariat)
    assert (refused.status_code, refused.json()["code"]) == (409, "session_not_open")
    assert secretariat.get("/applications").json()["total"] == 0
    if database_url.startswith("postgresql"):
        assert _write_connections(database_url) >= 1, "the submissions ran on the server's loop"


def test_a_handler_that_runs_its_own_writes_cannot_take_the_requests_session() -> None:
    """On SQLite such a handler waited for the process's write lock, held by its own request's
    session, until the timeout: the route is refused when it is built, at any depth of its
    dependencies."""

    def owned(db: DbSession) -> int:
        return 1

    async def handler(writes: HotWrites, thing: Annotated[int, Depends(owned)]) -> None:
        return None

    router = APIRouter(route_class=BoundedBodyRoute)
    with pytest.raises(TypeError, match="cannot also take the request's session"):
        router.post("/things")(handler)

    async def alone(writes: HotWrites) -> None:
        return None

    router.post("/things")(alone)  # its writes alone: accepted
