"""Several processes behind one database: a change made through one process is visible at the very
next read through any other, and no process answers 304 to an ETag of before the change.

Every test reads through B first (so that B holds rendered answers and has handed out an ETag),
writes through A, then reads through B at once, without sleeping. The two `ateliers serve`
processes and their database are shared by the module (the `live_servers` fixture), so each test
makes its own sessions, accounts and discounts under names of its own. What this holds is written
down in docs/caching.md.
"""

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy.engine import Engine

from api.clock import paris_today
from api.config import Settings
from api.db.engine import build_engine, open_session
from api.security import Passwords
from api.services.users import create_user
from models.user import Role
from tests.conftest import CHEAP_PASSWORD_HASHING, PASSWORD, TEST_SECRET_KEY, LiveServer
from tests.factories import application_payload, discount_payload, session_payload

Params = dict[str, str | int]


@dataclass
class Caller:
    """One caller with a connection to each process: the same token (if any) goes to both."""

    a: httpx.Client
    b: httpx.Client
    user_id: int | None = None


# Hashes as cheap as the live servers make them (tests/conftest.py).
CHEAP = Settings(env="test", secret_key=TEST_SECRET_KEY, **CHEAP_PASSWORD_HASHING)
PASSWORDS = Passwords.from_settings(CHEAP)


@pytest.fixture(scope="module")
def engine(live_servers: tuple[LiveServer, LiveServer]) -> Iterator[Engine]:
    """The test's own way into the shared database, for what `ateliers create-user` does."""
    settings = Settings(env="test", database_url=live_servers[0].database_url, secret_key=TEST_SECRET_KEY)
    shared = build_engine(settings)
    yield shared
    shared.dispose()


CallerFactory = Callable[..., Caller]


@pytest.fixture
def connect(live_servers: tuple[LiveServer, LiveServer], engine: Engine) -> Iterator[CallerFactory]:
    """Make a caller: anonymous, or a new account of `role` that logs in through A only."""
    server_a, server_b = live_servers
    clients: list[httpx.Client] = []

    def open_client(server: LiveServer) -> httpx.Client:
        client = httpx.Client(base_url=f"{server.url}/api/v1", timeout=10)
        clients.append(client)
        return client

    def factory(role: Role | None = None, *, full_name: str = "Dominique Test") -> Caller:
        caller = Caller(a=open_client(server_a), b=open_client(server_b))
        if role is None:
            return caller
        email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.org"
        with open_session(engine, write=True) as db:
            user = create_user(
                db,
                email=email,
                password=PASSWORD,
                full_name=full_name,
                role=role,
                now=datetime.now(UTC),
                passwords=PASSWORDS,
            )
            db.commit()
            caller.user_id = user.id
        login = caller.a.post("/auth/token", data={"username": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        for client in (caller.a, caller.b):
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        return caller

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def anyone(connect: CallerFactory) -> Caller:
    return connect()


@pytest.fixture
def staff(connect: CallerFactory) -> Caller:
    return connect(Role.secretariat, full_name="Claire Secrétariat")


def _unique(title: str) -> str:
    return f"{title} {uuid.uuid4().hex[:6]}"


def _session_in(client: httpx.Client, **overrides: Any) -> dict[str, Any]:
    """A draft session created through `client`, dated from the servers' real clock: open today."""
    start = paris_today(datetime.now(UTC)) + timedelta(days=120)
    body = session_payload(
        start_date=start.isoformat(),
        end_date=(start + timedelta(days=5)).isoformat(),
        application_deadline=(start - timedelta(days=14)).isoformat(),
        **overrides,
    )
    answer = client.post("/sessions", json=body)
    assert answer.status_code == 201, answer.text
    session: dict[str, Any] = answer.json()
    return session


def _published_in(client: httpx.Client, **overrides: Any) -> dict[str, Any]:
    session = _session_in(client, **overrides)
    answer = client.post(f"/sessions/{session['id']}/publish")
    assert answer.status_code == 200, answer.text
    published: dict[str, Any] = answer.json()
    return published


def warm(client: httpx.Client, path: str, params: Params | None = None) -> httpx.Response:
    """Read through `client`'s process until it holds the answer: 200, then 304 to its own ETag."""
    first = client.get(path, params=params)
    assert first.status_code == 200, first.text
    if "etag" in first.headers:
        again = client.get(path, params=params, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304, again.text
    return first


def fresh(
    client: httpx.Client, path: str, before: httpx.Response, params: Params | None = None
) -> httpx.Response:
    """The next reads through `client` after a change made elsewhere: a new answer, plainly and to
    the ETag `client` was given before the change."""
    answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.content != before.content, f"{path}: the answer of before the change"
    if "etag" in before.headers:
        old = before.headers["etag"]
        assert answer.headers["etag"] != old, f"{path}: a new answer under the ETag of before the change"
        revalidated = client.get(path, params=params, headers={"If-None-Match": old})
        status = revalidated.status_code
        assert status == 200, f"{path}: {status} to the ETag of before the change"
        assert revalidated.headers["etag"] == answer.headers["etag"]
        assert revalidated.content == answer.content
    return answer


def _listed(listing: httpx.Response, session_id: int) -> dict[str, Any]:
    [item] = [s for s in listing.json()["items"] if s["id"] == session_id]
    found: dict[str, Any] = item
    return found


def titles(page: httpx.Response) -> list[str]:
    return [item["title"] for item in page.json()["items"]]


def calendar_titles(feed: httpx.Response) -> list[str]:
    return [str(event["SUMMARY"]) for event in Calendar.from_ical(feed.content).walk("VEVENT")]


LISTING: Params = {"limit": 100}
PARIS_OPEN: Params = {"city": "Paris", "open": "true", "limit": 100}


def test_the_two_servers_are_two_processes_sharing_one_key(
    live_servers: tuple[LiveServer, LiveServer], staff: Caller
) -> None:
    server_a, server_b = live_servers
    assert server_a.pid != server_b.pid
    assert os.getpid() not in (server_a.pid, server_b.pid)
    assert server_a.port != server_b.port
    assert server_a.database_url == server_b.database_url
    for server in live_servers:
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    # The token A issued is good on B.
    me = staff.b.get("/users/me")
    assert me.status_code == 200, me.text
    assert me.json()["id"] == staff.user_id


def test_a_session_published_through_one_process_is_listed_at_once_by_the_other(
    staff: Caller, anyone: Caller
) -> None:
    title = _unique("Les ateliers des cultures numériques")
    draft = _session_in(staff.a, title=title)
    listing = warm(anyone.b, "/sessions", LISTING)
    paris_open = warm(anyone.b, "/sessions", PARIS_OPEN)
    feed = warm(anyone.b, "/sessions.ics")
    assert title not in titles(listing)
    assert anyone.b.get(f"/sessions/{draft['slug']}").status_code == 404  # a draft is not public

    published = staff.a.post(f"/sessions/{draft['id']}/publish")
    assert published.status_code == 200, published.text

    assert title in titles(fresh(anyone.b, "/sessions", listing, LISTING))
    assert title in titles(fresh(anyone.b, "/sessions", paris_open, PARIS_OPEN))
    assert title in calendar_titles(fresh(anyone.b, "/sessions.ics", feed))
    detail = anyone.b.get(f"/sessions/{draft['slug']}")
    assert detail.status_code == 200
    assert detail.json()["status"] == "published"


def test_a_title_changed_through_one_process_shows_at_once_in_the_other(
    staff: Caller, anyone: Caller
) -> None:
    session = _published_in(staff.a, title=_unique("Cultures numériques"))
    detail_path = f"/sessions/{session['slug']}"
    listing = warm(anyone.b, "/sessions", LISTING)
    paris_open = warm(anyone.b, "/sessions", PARIS_OPEN)
    feed = warm(anyone.b, "/sessions.ics")
    detail = warm(anyone.b, detail_path)
    private_listing = warm(staff.b, "/sessions", LISTING)

    new_title = _unique("Cultures numériques, deuxième édition")
    changed = staff.a.patch(f"/sessions/{session['id']}", json={"title": new_title})
    assert changed.status_code == 200, changed.text

    assert new_title in titles(fresh(anyone.b, "/sessions", listing, LISTING))
    assert session["title"] not in titles(anyone.b.get("/sessions", params=LISTING))
    assert new_title in titles(fresh(anyone.b, "/sessions", paris_open, PARIS_OPEN))
    assert new_title in calendar_titles(fresh(anyone.b, "/sessions.ics", feed))
    assert fresh(anyone.b, detail_path, detail).json()["title"] == new_title
    assert new_title in titles(fresh(staff.b, "/sessions", private_listing, LISTING))


def test_a_trainer_renamed_through_one_process_shows_at_once_in_the_other(
    connect: CallerFactory, staff: Caller, anyone: Caller
) -> None:
    trainer = connect(Role.trainer, full_name="Élise Formatrice")
    session = _published_in(staff.a, title=_unique("Ateliers avec formatrice"))
    assigned = staff.a.put(f"/sessions/{session['id']}/trainers", json={"trainer_ids": [trainer.user_id]})
    assert assigned.status_code == 200, assigned.text
    detail_path = f"/sessions/{session['slug']}"
    listing = warm(anyone.b, "/sessions", LISTING)
    detail = warm(anyone.b, detail_path)

    renamed = staff.a.patch(f"/users/{trainer.user_id}", json={"full_name": "Élise Formatrice-Martin"})
    assert renamed.status_code == 200, renamed.text

    item = _listed(fresh(anyone.b, "/sessions", listing, LISTING), session["id"])
    assert [t["full_name"] for t in item["trainers"]] == ["Élise Formatrice-Martin"]
    trainers = fresh(anyone.b, detail_path, detail).json()["trainers"]
    assert [t["full_name"] for t in trainers] == ["Élise Formatrice-Martin"]


def _seats(listing: httpx.Response, session_id: int) -> int:
    seats: int = _listed(listing, session_id)["seats_remaining"]
    return seats


def test_an_acceptance_through_one_process_changes_the_seats_the_other_shows(
    connect: CallerFactory, staff: Caller, anyone: Caller
) -> None:
    session = _published_in(staff.a, title=_unique("Session de trois places"), capacity=3)
    trainee = connect(Role.applicant)
    submitted = trainee.a.post(f"/sessions/{session['id']}/applications", json=application_payload())
    assert submitted.status_code == 201, submitted.text
    detail_path = f"/sessions/{session['slug']}"
    detail = warm(anyone.b, detail_path)
    listing = warm(anyone.b, "/sessions", LISTING)
    assert detail.json()["seats_remaining"] == 3

    accepted = staff.a.post(f"/applications/{submitted.json()['id']}/decision", json={"decision": "accepted"})
    assert accepted.status_code == 200, accepted.text

    detail = fresh(anyone.b, detail_path, detail)
    assert detail.json()["seats_remaining"] == 2
    listing = fresh(anyone.b, "/sessions", listing, LISTING)
    assert _seats(listing, session["id"]) == 2

    # The seat given back by a withdrawal, through A, is B's to show at once too.
    withdrawn = trainee.a.post(f"/applications/{submitted.json()['id']}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    assert fresh(anyone.b, detail_path, detail).json()["seats_remaining"] == 3
    assert _seats(fresh(anyone.b, "/sessions", listing, LISTING), session["id"]) == 3


def test_a_discount_created_or_deactivated_through_one_process_shows_at_once_in_the_other(
    staff: Caller, anyone: Caller
) -> None:
    code = f"MP{uuid.uuid4().hex[:8].upper()}"
    public = warm(anyone.b, "/discounts", LISTING)
    private = warm(staff.b, "/discounts", LISTING)

    created = staff.a.post("/discounts", json=discount_payload(code=code))
    assert created.status_code == 201, created.text
    discount_id = created.json()["id"]

    public = fresh(anyone.b, "/discounts", public, LISTING)
    assert code in [d["code"] for d in public.json()["items"]]
    private = fresh(staff.b, "/discounts", private, LISTING)
    assert code in [d["code"] for d in private.json()["items"]]
    detail = warm(anyone.b, f"/discounts/{discount_id}")
    staff_detail = warm(staff.b, f"/discounts/{discount_id}")
    public = warm(anyone.b, "/discounts", LISTING)
    private = warm(staff.b, "/discounts", LISTING)

    relabelled = staff.a.patch(f"/discounts/{discount_id}", json={"label": "Anciens stagiaires (2016)"})
    assert relabelled.status_code == 200, relabelled.text
    assert fresh(anyone.b, f"/discounts/{discount_id}", detail).json()["label"] == "Anciens stagiaires (2016)"
    public = fresh(anyone.b, "/discounts", public, LISTING)
    private = fresh(staff.b, "/discounts", private, LISTING)

    deactivated = staff.a.delete(f"/discounts/{discount_id}")
    assert deactivated.status_code == 204, deactivated.text

    assert code not in [d["code"] for d in fresh(anyone.b, "/discounts", public, LISTING).json()["items"]]
    [row] = [d for d in fresh(staff.b, "/discounts", private, LISTING).json()["items"] if d["code"] == code]
    assert row["active"] is False
    assert fresh(staff.b, f"/discounts/{discount_id}", staff_detail).json()["active"] is False
    gone = anyone.b.get(f"/discounts/{discount_id}", headers={"If-None-Match": detail.headers["etag"]})
    assert gone.status_code == 404


def test_applications_submitted_or_decided_through_one_process_list_at_once_in_the_other(
    connect: CallerFactory, staff: Caller
) -> None:
    session = _published_in(staff.a, title=_unique("Session des candidatures"))
    trainee = connect(Role.applicant)
    own = warm(trainee.b, "/applications")
    assert own.json()["items"] == []
    by_session: Params = {"session_id": session["id"]}
    files = warm(staff.b, "/applications", by_session)
    assert files.json()["items"] == []

    submitted = trainee.a.post(f"/sessions/{session['id']}/applications", json=application_payload())
    assert submitted.status_code == 201, submitted.text
    application_id = submitted.json()["id"]

    own = fresh(trainee.b, "/applications", own)
    assert [(a["id"], a["status"]) for a in own.json()["items"]] == [(application_id, "submitted")]
    files = fresh(staff.b, "/applications", files, by_session)
    assert [(a["id"], a["status"]) for a in files.json()["items"]] == [(application_id, "submitted")]
    detail = warm(trainee.b, f"/applications/{application_id}")
    own, files = warm(trainee.b, "/applications"), warm(staff.b, "/applications", by_session)

    decided = staff.a.post(f"/applications/{application_id}/decision", json={"decision": "accepted"})
    assert decided.status_code == 200, decided.text

    files = fresh(staff.b, "/applications", files, by_session)
    assert [(a["id"], a["status"]) for a in files.json()["items"]] == [(application_id, "accepted")]
    own = fresh(trainee.b, "/applications", own)
    assert [a["status"] for a in own.json()["items"]] == ["accepted"]
    assert fresh(trainee.b, f"/applications/{application_id}", detail).json()["status"] == "accepted"


def test_a_session_closed_then_cancelled_through_one_process_shows_at_once_in_the_other(
    staff: Caller, anyone: Caller
) -> None:
    session = _published_in(staff.a, title=_unique("Session bientôt annulée"))
    detail_path = f"/sessions/{session['slug']}"
    detail = warm(anyone.b, detail_path)
    listing = warm(anyone.b, "/sessions", LISTING)
    paris_open = warm(anyone.b, "/sessions", PARIS_OPEN)
    assert detail.json()["open_for_applications"] is True

    closed = staff.a.post(f"/sessions/{session['id']}/close")
    assert closed.status_code == 200, closed.text

    detail = fresh(anyone.b, detail_path, detail)
    assert (detail.json()["status"], detail.json()["open_for_applications"]) == ("closed", False)
    listing = fresh(anyone.b, "/sessions", listing, LISTING)
    assert session["title"] in titles(listing)
    assert session["title"] not in titles(fresh(anyone.b, "/sessions", paris_open, PARIS_OPEN))
    staff_detail = warm(staff.b, detail_path)

    cancelled = staff.a.post(f"/sessions/{session['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text

    # The public no longer sees it at all: a 404, never a 304 to the ETag it held.
    gone = anyone.b.get(detail_path, headers={"If-None-Match": detail.headers["etag"]})
    assert gone.status_code == 404
    assert session["title"] not in titles(fresh(anyone.b, "/sessions", listing, LISTING))
    assert fresh(staff.b, detail_path, staff_detail).json()["status"] == "cancelled"


def test_a_write_through_b_is_as_visible_through_a(staff: Caller, anyone: Caller) -> None:
    """The rule has no favourite process: the same through the other pair of hands."""
    session = _published_in(staff.b, title=_unique("Dans l’autre sens"))
    detail_path = f"/sessions/{session['slug']}"
    listing, detail = warm(anyone.a, "/sessions", LISTING), warm(anyone.a, detail_path)

    new_title = _unique("Dans l’autre sens, retitrée")
    assert staff.b.patch(f"/sessions/{session['id']}", json={"title": new_title}).status_code == 200

    assert new_title in titles(fresh(anyone.a, "/sessions", listing, LISTING))
    assert fresh(anyone.a, detail_path, detail).json()["title"] == new_title
