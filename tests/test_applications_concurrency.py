"""Admission rules that must hold when requests race, on SQLite and PostgreSQL: capacity is a hard
limit, one live application per applicant, one promotion per freed seat, and a crowd applying at
once is served.

Each racer is a TestClient of its own, so every request has its own connection and transaction.
"""

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.clock import FixedClock
from tests.conftest import AppClient
from tests.factories import applicant_accounts, application_payload, apply, paper_payload, published_session

# Its bursts open dozens of PostgreSQL connections at once: the modules that do so share one worker
# (--dist loadgroup), so that two bursts never meet and exhaust the server's max_connections.
pytestmark = pytest.mark.xdist_group("connection_bursts")

T = TypeVar("T")


def race(
    app: FastAPI, calls: list[Callable[[TestClient], T]], *, authorization: str | None = None
) -> list[T]:
    """Run every call at the same moment, each from its own client (and client address)."""
    clients = [AppClient(app, address=f"10.0.{n // 250}.{n % 250 + 1}") for n in range(len(calls))]
    if authorization:
        for client in clients:
            client.headers["Authorization"] = authorization
    start = threading.Barrier(len(calls))

    def run(call: Callable[[TestClient], T], client: TestClient) -> T:
        start.wait()
        return call(client)

    try:
        with ThreadPoolExecutor(len(calls)) as pool:
            return list(pool.map(run, calls, clients))
    finally:
        for client in clients:
            client.close()


def codes(answers: list[httpx.Response]) -> Counter[tuple[int, str]]:
    """How many answers had each (status, problem code); "" for successes."""
    return Counter((a.status_code, a.json().get("code", "") if a.status_code >= 400 else "") for a in answers)


def paper_files(
    secretariat: TestClient, app: FastAPI, clock: FixedClock, session_id: int, count: int
) -> list[int]:
    """`count` submitted paper files for fresh applicant accounts; their ids."""
    ids = []
    for applicant_id in applicant_accounts(app, count, now=clock.now()):
        answer = secretariat.post(
            f"/sessions/{session_id}/applications", json=paper_payload(applicant_id, "2027-01-14")
        )
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return ids


def accept(application_id: int) -> Callable[[TestClient], httpx.Response]:
    return lambda client: client.post(
        f"/applications/{application_id}/decision", json={"decision": "accepted"}
    )


def accepted_total(client: TestClient, session_id: int) -> int:
    params: dict[str, Any] = {"session_id": session_id, "status": "accepted", "limit": 1}
    total: int = client.get("/applications", params=params).json()["total"]
    return total


def test_fifty_concurrent_accepts_fill_twenty_five_seats_exactly(app, secretariat, anonymous, clock):
    session = published_session(secretariat, capacity=25)
    ids = paper_files(secretariat, app, clock, session["id"], 50)
    answers = race(app, [accept(i) for i in ids], authorization=secretariat.headers["Authorization"])
    assert codes(answers) == {(200, ""): 25, (409, "session_full"): 25}
    detail = anonymous.get(f"/sessions/{session['id']}").json()
    assert detail["seats_remaining"] == 0
    assert accepted_total(secretariat, session["id"]) == 25
    winners = {a.json()["id"] for a in answers if a.status_code == 200}
    assert {i for i in ids if secretariat.get(f"/applications/{i}").json()["status"] == "accepted"} == winners


def test_lowering_the_capacity_while_accepts_race_never_overfills(app, secretariat, clock):
    session = published_session(secretariat, capacity=30)
    ids = paper_files(secretariat, app, clock, session["id"], 40)
    for application_id in ids[:20]:
        assert accept(application_id)(secretariat).status_code == 200
    url = f"/sessions/{session['id']}"

    def lower_to(capacity: int) -> Callable[[TestClient], httpx.Response]:
        return lambda client: client.patch(url, json={"capacity": capacity})

    lowerings = [lower_to(capacity) for capacity in range(20, 30)]
    answers = race(
        app, [accept(i) for i in ids[20:]] + lowerings, authorization=secretariat.headers["Authorization"]
    )
    decisions, patches = answers[:20], answers[20:]
    assert set(codes(decisions)) <= {(200, ""), (409, "session_full")}
    assert set(codes(patches)) <= {(200, ""), (409, "capacity_below_accepted")}
    detail = secretariat.get(url).json()
    accepted = accepted_total(secretariat, session["id"])
    assert accepted <= detail["capacity"]
    assert accepted == detail["capacity"] - detail["seats_remaining"]
    assert accepted == 20 + sum(1 for a in decisions if a.status_code == 200)


def test_one_applicant_applying_many_times_at_once_gets_one_application(app, applicant, secretariat):
    session = published_session(secretariat)
    body = application_payload()
    answers = race(
        app,
        [lambda client: client.post(f"/sessions/{session['id']}/applications", json=body)] * 8,
        authorization=applicant.headers["Authorization"],
    )
    assert codes(answers) == {(201, ""): 1, (409, "already_applied"): 7}
    assert applicant.get("/applications").json()["total"] == 1


def test_concurrent_withdrawals_of_one_accepted_application_promote_exactly_one(
    app, applicant, secretariat, clock
):
    session = published_session(secretariat, capacity=1)
    mine = apply(applicant, session["id"])
    assert accept(mine["id"])(secretariat).status_code == 200
    waiting = paper_files(secretariat, app, clock, session["id"], 3)
    for application_id in waiting:
        answer = secretariat.post(f"/applications/{application_id}/decision", json={"decision": "waitlisted"})
        assert answer.status_code == 200
    withdraw = lambda client: client.post(f"/applications/{mine['id']}/withdraw")  # noqa: E731
    answers = race(app, [withdraw] * 8, authorization=applicant.headers["Authorization"])
    assert codes(answers) == {(200, ""): 1, (409, "invalid_transition"): 7}
    states = [secretariat.get(f"/applications/{i}").json() for i in waiting]
    assert [(s["status"], s["waitlist_position"]) for s in states] == [
        ("accepted", None),
        ("waitlisted", 1),
        ("waitlisted", 2),
    ]
    assert secretariat.get(f"/sessions/{session['id']}").json()["seats_remaining"] == 0


def test_a_crowd_registering_logging_in_and_applying_at_once_is_all_served(app, secretariat):
    session = published_session(secretariat, capacity=60)

    def newcomer(n: int) -> Callable[[TestClient], list[int]]:
        def journey(client: TestClient) -> list[int]:
            email = f"foule-{n}@example.org"
            registered = client.post(
                "/auth/register",
                json={"email": email, "password": "une phrase de passe", "full_name": f"Personne {n}"},
            )
            token = client.post("/auth/token", data={"username": email, "password": "une phrase de passe"})
            if token.status_code != 200:
                return [registered.status_code, token.status_code]
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            applied = client.post(f"/sessions/{session['id']}/applications", json=application_payload())
            return [registered.status_code, token.status_code, applied.status_code]

        return journey

    journeys = race(app, [newcomer(n) for n in range(60)])
    assert Counter(tuple(j) for j in journeys) == {(201, 200, 201): 60}
    assert secretariat.get("/applications", params={"session_id": session["id"]}).json()["total"] == 60
