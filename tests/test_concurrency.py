"""Rules that must hold when requests race, enforced by the database on SQLite and PostgreSQL."""

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.clock import FixedClock
from api.config import Settings
from api.main import create_app
from models.user import Role
from tests.conftest import PASSWORD, AppClient, serving
from tests.factories import add_account, create_session, session_payload
from tests.problems import assert_problem, assert_unauthorized

# Its bursts open dozens of PostgreSQL connections at once: the modules that do so share one worker
# (--dist loadgroup), so that two bursts never meet and exhaust the server's max_connections.
pytestmark = pytest.mark.xdist_group("connection_bursts")

RACERS = 8
WRONG_PASSWORD = "not the right password"


def _race(app: FastAPI, call) -> list:
    clients = [AppClient(app) for _ in range(RACERS)]
    try:
        with ThreadPoolExecutor(RACERS) as pool:
            return list(pool.map(call, clients))
    finally:
        for client in clients:
            client.close()


def test_a_refresh_token_rotates_once_under_concurrent_use(app: FastAPI, applicant: TestClient) -> None:
    refresh_token = applicant.tokens["refresh_token"]
    answers = _race(app, lambda client: client.post("/auth/refresh", json={"refresh_token": refresh_token}))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [401] * (RACERS - 1)
    # The losers presented a used token: the whole family, the winner's new token included, is revoked.
    winner = next(answer for answer in answers if answer.status_code == 200).json()
    assert applicant.post("/auth/refresh", json={"refresh_token": winner["refresh_token"]}).status_code == 401


def test_one_email_registers_once_under_concurrent_use(app: FastAPI, anonymous: TestClient) -> None:
    body = {
        "email": "meme.adresse@example.org",
        "password": "une phrase de passe",
        "full_name": "Même Personne",
    }
    answers = _race(app, lambda client: client.post("/auth/register", json=body))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * (RACERS - 1)
    assert {answer.json()["code"] for answer in answers if answer.status_code == 409} == {"email_taken"}


# The attacks of the adversarial review that needed a race (findings 1, 3, 6 and 9). Each trial
# lines its requests up on a barrier; every client is its own TestClient, so that every request
# gets its own connection from the pool.

TRIALS = 30
TRIAL_BUDGET_SECONDS = 120
BARRIER_SECONDS = 30


def _client_at(app: FastAPI, address: str = "testclient") -> TestClient:
    return AppClient(app, address=address)


def _together(app: FastAPI, *calls: Callable[[TestClient], Any], addresses: Sequence[str] = ()) -> list[Any]:
    """Run every call at once, each with a client of its own (from `addresses[i]` when given),
    released together by a barrier; their results, in order."""
    barrier = threading.Barrier(len(calls), timeout=BARRIER_SECONDS)
    clients = [
        _client_at(app, addresses[n] if n < len(addresses) else "testclient") for n in range(len(calls))
    ]

    def run(n: int) -> Any:
        barrier.wait()
        return calls[n](clients[n])

    try:
        with ThreadPoolExecutor(len(calls)) as pool:
            futures = [pool.submit(run, n) for n in range(len(calls))]
            return [future.result(timeout=120) for future in futures]
    finally:
        for client in clients:
            client.close()


def _refresh(client: TestClient, refresh_token: str) -> httpx.Response:
    return client.post("/auth/refresh", json={"refresh_token": refresh_token})


def _log_in(client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/auth/token", data={"username": email, "password": password})


def _log_out(client: TestClient, refresh_token: str) -> httpx.Response:
    return client.post("/auth/logout", json={"refresh_token": refresh_token})


def _deactivate(client: TestClient, user_id: int, headers: dict[str, str]) -> httpx.Response:
    return client.patch(f"/users/{user_id}", json={"active": False}, headers=headers)


def _trials() -> Iterator[int]:
    """Up to TRIALS trials, fewer if a slow machine runs out of the time budget."""
    deadline = time.monotonic() + TRIAL_BUDGET_SECONDS
    for trial in range(TRIALS):
        if time.monotonic() > deadline:
            return
        yield trial


# 1. Refresh-token reuse, and logout, against a concurrent refresh


def test_a_reused_token_revokes_a_chain_that_a_thief_refreshes_concurrently(
    app: FastAPI, applicant: TestClient
) -> None:
    email = applicant.user["email"]
    for _trial in _trials():
        used = _log_in(applicant, email).json()["refresh_token"]
        current = _refresh(applicant, used).json()["refresh_token"]

        def thief(client: TestClient, start: str = current) -> tuple[str, list[int]]:
            latest, statuses = start, []
            for _ in range(10):
                answer = _refresh(client, latest)
                statuses.append(answer.status_code)
                if answer.status_code != 200:
                    break
                latest = answer.json()["refresh_token"]
            return latest, statuses

        def victim(client: TestClient, used: str = used) -> httpx.Response:
            return _refresh(client, used)

        (latest, statuses), reuse = _together(app, thief, victim)

        assert_unauthorized(reuse)
        assert set(statuses) <= {200, 401}, statuses
        # Once the reuse is detected, no token of the family works, the thief's newest included.
        assert_unauthorized(_refresh(applicant, latest))


def test_no_refresh_token_outlives_a_concurrent_logout(app: FastAPI, applicant: TestClient) -> None:
    email = applicant.user["email"]
    for _trial in _trials():
        token = _log_in(applicant, email).json()["refresh_token"]

        rotation, logout = _together(
            app,
            partial(_refresh, refresh_token=token),
            partial(_log_out, refresh_token=token),
        )

        assert logout.status_code == 204, logout.text
        assert rotation.status_code in (200, 401), rotation.text
        if rotation.status_code == 200:
            assert_unauthorized(_refresh(applicant, rotation.json()["refresh_token"]))
        assert_unauthorized(_refresh(applicant, token))


# 3. The login limit under concurrent failures

LIMIT = 10
BURST = 60


def _assert_limited(answers: list[httpx.Response]) -> None:
    """At most LIMIT failures were evaluated; every other attempt was refused before its password."""
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {401, 429}, statuses
    for answer in answers:
        if answer.status_code == 401:
            assert_problem(answer, 401, "invalid_credentials")
        else:
            assert_problem(answer, 429, "too_many_attempts")
            assert 0 < int(answer.headers["retry-after"]) <= 15 * 60
    assert statuses.count(401) == LIMIT


def test_concurrent_wrong_passwords_for_one_account_are_evaluated_ten_times_at_most(
    app: FastAPI, applicant: TestClient
) -> None:
    email = applicant.user["email"]
    # Each attempt from its own address: only the per-account count may stop them.
    addresses = [f"10.3.{n // 250}.{n % 250 + 1}" for n in range(BURST)]
    answers = _together(
        app, *[lambda client: _log_in(client, email, WRONG_PASSWORD)] * BURST, addresses=addresses
    )

    _assert_limited(answers)
    with _client_at(app, "203.0.113.77") as elsewhere:
        assert_problem(_log_in(elsewhere, email), 429, "too_many_attempts")


@pytest.fixture
def office_app(settings: Settings, clock: FixedClock) -> Iterator[FastAPI]:
    """The service refusing an address after LIMIT failures instead of 100, as one setting says."""
    strict = settings.model_copy(update={"login_failures_per_address_limit": LIMIT})
    application = create_app(strict, clock=clock)
    with serving(application):
        yield application


def test_concurrent_wrong_passwords_from_one_address_are_answered_401_ten_times_at_most(
    office_app: FastAPI, clock: FixedClock
) -> None:
    _staff(office_app, clock, Role.applicant, "collegue@example.org")
    calls = [
        lambda client, n=n: _log_in(client, f"nobody-{n}@example.org", WRONG_PASSWORD) for n in range(BURST)
    ]
    answers = _together(office_app, *calls, addresses=["198.51.100.9"] * BURST)

    # Checked together, since only failures count for an address, yet answered 401 exactly LIMIT times.
    _assert_limited(answers)
    with _client_at(office_app, "198.51.100.9") as same_address:
        refused = _log_in(same_address, "collegue@example.org")
    assert_problem(refused, 429, "too_many_attempts")
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    with _client_at(office_app, "198.51.100.10") as elsewhere:
        assert _log_in(elsewhere, "collegue@example.org").status_code == 200


# 10. Only failures count for an address: colleagues behind one address (an office, a campus, a
# training room behind one NAT) log in together

OFFICE = "192.0.2.80"
COLLEAGUES = 16
INTRUDERS = 8


def test_correct_logins_from_one_address_are_never_refused_by_the_logins_in_flight(
    app: FastAPI, clock: FixedClock
) -> None:
    emails = [f"stagiaire-{n}@example.org" for n in range(COLLEAGUES)]
    for email in emails:
        _staff(app, clock, Role.applicant, email)
    logins: list[Callable[[TestClient], Any]] = [partial(_log_in, email=email) for email in emails]
    # Wrong passwords from the same address, in flight at the same time, are failures below the limit.
    logins += [
        partial(_log_in, email=f"nobody-{n}@example.org", password=WRONG_PASSWORD) for n in range(INTRUDERS)
    ]

    answers = _together(app, *logins, addresses=[OFFICE] * len(logins))

    assert [a.status_code for a in answers[:COLLEAGUES]] == [200] * COLLEAGUES, [
        a.text for a in answers if a.status_code != 200
    ]
    for failure in answers[COLLEAGUES:]:
        assert_problem(failure, 401, "invalid_credentials")
    with _client_at(app, OFFICE) as colleague:
        assert _log_in(colleague, emails[0]).status_code == 200


# 6. Password hashing holds no write lock: a burst of logins or registrations blocks no other write


@pytest.fixture
def impatient_app(settings: Settings, clock: FixedClock) -> Iterator[FastAPI]:
    """The service with a one-second database timeout: a write that waits longer answers 503; and
    hashing at production's cost (the settings' defaults), which a lock held while hashing would cost."""
    production_cost = {
        name: field.default
        for name, field in Settings.model_fields.items()
        if name.startswith("password_hash_")
    }
    impatient = settings.model_copy(update={"database_timeout_seconds": 1, **production_cost})
    application = create_app(impatient, clock=clock)
    with serving(application):
        yield application


def _staff(app: FastAPI, clock: FixedClock, role: Role, email: str) -> None:
    add_account(app, email, password=PASSWORD, role=role, full_name="Compte Test", now=clock.now())


def _secretariat_changes(app: FastAPI, clock: FixedClock) -> tuple[list[Callable[[TestClient], Any]], str]:
    """Five session changes by the secretariat (three creations, two renamings), and its token."""
    _staff(app, clock, Role.secretariat, "claire@example.org")
    with _client_at(app, "192.0.2.250") as client:
        token = _log_in(client, "claire@example.org").json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        existing = [create_session(client, title=f"Session existante {n}")["id"] for n in range(2)]

    def create(client: TestClient, n: int) -> httpx.Response:
        return client.post(
            "/sessions",
            json=session_payload(title=f"Session créée {n}"),
            headers={"Authorization": f"Bearer {token}"},
        )

    def rename(client: TestClient, session_id: int) -> httpx.Response:
        return client.patch(
            f"/sessions/{session_id}",
            json={"subtitle": f"Renommée pendant la rafale {session_id}"},
            headers={"Authorization": f"Bearer {token}"},
        )

    changes: list[Callable[[TestClient], Any]] = [partial(create, n=n) for n in range(3)]
    changes += [partial(rename, session_id=i) for i in existing]
    return changes, token


def test_a_burst_of_logins_does_not_make_the_secretariats_writes_fail(
    impatient_app: FastAPI, clock: FixedClock
) -> None:
    changes, _ = _secretariat_changes(impatient_app, clock)
    # Eight accounts logging in six times each, from 48 addresses: no login limit is reached.
    emails = [f"formateur-{n}@example.org" for n in range(8)]
    for email in emails:
        _staff(impatient_app, clock, Role.trainer, email)
    logins = [lambda c, email=emails[n % 8]: _log_in(c, email) for n in range(48)]
    addresses = [f"10.6.0.{n + 1}" for n in range(48)] + ["192.0.2.251"] * len(changes)

    answers = _together(impatient_app, *logins, *changes, addresses=addresses)

    assert [a.status_code for a in answers[:48]] == [200] * 48, [
        a.text for a in answers if a.status_code != 200
    ]
    assert sorted(a.status_code for a in answers[48:]) == [200, 200, 201, 201, 201], [
        a.text for a in answers[48:]
    ]


def test_a_burst_of_registrations_does_not_make_the_secretariats_writes_fail(
    impatient_app: FastAPI, clock: FixedClock
) -> None:
    changes, _ = _secretariat_changes(impatient_app, clock)
    registrations = [
        lambda c, n=n: c.post(
            "/auth/register",
            json={"email": f"candidat-{n}@example.org", "password": "une phrase de passe", "full_name": "C"},
        )
        for n in range(40)
    ]

    answers = _together(impatient_app, *registrations, *changes)

    assert [a.status_code for a in answers[:40]] == [201] * 40, [
        a.text for a in answers if a.status_code != 201
    ]
    assert sorted(a.status_code for a in answers[40:]) == [200, 200, 201, 201, 201], [
        a.text for a in answers[40:]
    ]


# 9. Deactivation against a concurrent refresh and login


def test_no_token_obtained_before_or_during_a_deactivation_survives_reactivation(
    app: FastAPI, secretariat: TestClient, clock: FixedClock
) -> None:
    for trial in _trials():
        if trial == 15:
            break  # each trial creates an account: fewer of them than the other races
        email = f"cible-{trial}@example.org"
        _staff(app, clock, Role.applicant, email)
        with _client_at(app, f"10.9.{trial}.1") as client:
            before = _log_in(client, email).json()
        user_id = secretariat.get(
            "/users/me", headers={"Authorization": f"Bearer {before['access_token']}"}
        ).json()["id"]

        rotation, login, deactivation = _together(
            app,
            partial(_refresh, refresh_token=before["refresh_token"]),
            partial(_log_in, email=email),
            partial(_deactivate, user_id=user_id, headers=dict(secretariat.headers)),
            addresses=["testclient", f"10.9.{trial}.2", "testclient"],
        )
        assert deactivation.status_code == 200, deactivation.text
        reactivation = secretariat.patch(f"/users/{user_id}", json={"active": True})
        assert reactivation.status_code == 200, reactivation.text

        pairs = [before] + [answer.json() for answer in (rotation, login) if answer.status_code == 200]
        assert rotation.status_code in (200, 401) and login.status_code in (200, 401), (
            rotation.text,
            login.text,
        )
        with _client_at(app, f"10.9.{trial}.3") as client:
            for pair in pairs:
                assert_unauthorized(
                    client.get("/users/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
                )
                assert_unauthorized(_refresh(client, pair["refresh_token"]))
            assert _log_in(client, email).status_code == 200
