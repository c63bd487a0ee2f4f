"""The public catalogue as partner sites and calendars read it: ETags and 304s, CORS, security
headers, the iCalendar feed, and the brochure's session loaded by the demo seed."""

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from icalendar import Calendar

from api.clock import FixedClock
from api.config import Settings
from api.db.engine import open_session
from api.demo import seed_demo
from api.main import create_app
from tests.factories import create_session, published_session, session_payload

STRONG_ETAG = re.compile(r'^"[^"]+"$')
ORIGIN = "https://partner.example"


def etag_of(client: TestClient, path: str, **params: Any) -> str:
    answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    etag: str = answer.headers["etag"]
    return etag


def revalidate(client: TestClient, path: str, etag: str) -> httpx.Response:
    return client.get(path, headers={"If-None-Match": etag})


def events_of(answer: httpx.Response) -> list[Any]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(answer.content)
    return list(calendar.walk("VEVENT"))


# HTTP caching


@pytest.fixture
def public_paths(secretariat, trainer) -> list[str]:
    session = published_session(secretariat)
    secretariat.put(f"/sessions/{session['id']}/trainers", json={"trainer_ids": [trainer.user["id"]]})
    return ["/sessions", f"/sessions/{session['id']}", f"/sessions/{session['slug']}", "/sessions.ics"]


def test_public_reads_carry_a_strong_etag_and_public_cache_control(anonymous, public_paths):
    for path in public_paths:
        answer = anonymous.get(path)
        assert answer.status_code == 200, path
        assert STRONG_ETAG.match(answer.headers["etag"]), (path, answer.headers["etag"])
        assert "public" in answer.headers["cache-control"], path


def test_secretariat_listing_with_drafts_is_not_publicly_cacheable(anonymous, secretariat):
    create_session(secretariat)
    private = secretariat.get("/sessions")
    assert private.json()["total"] == 1
    assert "private" in private.headers["cache-control"]
    assert "authorization" in private.headers["vary"].lower()
    # The secretariat's ETag never validates the anonymous representation.
    answer = revalidate(anonymous, "/sessions", private.headers["etag"])
    assert answer.status_code == 200
    assert answer.json()["total"] == 0


def test_if_none_match_with_the_current_etag_is_not_modified(anonymous, public_paths):
    for path in public_paths:
        etag = etag_of(anonymous, path)
        answer = revalidate(anonymous, path, etag)
        assert answer.status_code == 304, path
        assert answer.content == b""
        assert answer.headers["etag"] == etag
        assert "public" in answer.headers["cache-control"]


def test_if_none_match_with_another_etag_is_a_full_answer(anonymous, public_paths):
    for path in public_paths:
        answer = revalidate(anonymous, path, '"not-the-current-one"')
        assert answer.status_code == 200, path
        assert answer.content


def _patch(secretariat: TestClient, session: dict[str, Any], trainer_id: int) -> None:
    answer = secretariat.patch(f"/sessions/{session['id']}", json={"capacity": 30})
    assert answer.status_code == 200, answer.text


def _close(secretariat: TestClient, session: dict[str, Any], trainer_id: int) -> None:
    assert secretariat.post(f"/sessions/{session['id']}/close").status_code == 200


def _unassign(secretariat: TestClient, session: dict[str, Any], trainer_id: int) -> None:
    answer = secretariat.put(f"/sessions/{session['id']}/trainers", json={"trainer_ids": []})
    assert answer.status_code == 200, answer.text


def _rename_trainer(secretariat: TestClient, session: dict[str, Any], trainer_id: int) -> None:
    answer = secretariat.patch(f"/users/{trainer_id}", json={"full_name": "Élise Martin-Renommée"})
    assert answer.status_code == 200, answer.text


Write = Callable[[TestClient, dict[str, Any], int], None]


@pytest.mark.parametrize(
    ("write", "changed"),
    [
        (_patch, lambda s: s["capacity"] == 30),
        (_close, lambda s: s["status"] == "closed"),
        (_unassign, lambda s: s["trainers"] == []),
        (_rename_trainer, lambda s: s["trainers"][0]["full_name"] == "Élise Martin-Renommée"),
    ],
    ids=["patch", "status-change", "trainer-assignment", "trainer-renamed"],
)
def test_a_write_changes_the_etags_at_once(
    anonymous, secretariat, trainer, write: Write, changed: Callable[[dict[str, Any]], bool]
):
    session = published_session(secretariat)
    secretariat.put(f"/sessions/{session['id']}/trainers", json={"trainer_ids": [trainer.user["id"]]})
    paths = ["/sessions", f"/sessions/{session['id']}", f"/sessions/{session['slug']}", "/sessions.ics"]
    before = {path: anonymous.get(path) for path in paths}

    write(secretariat, session, trainer.user["id"])

    for path, held in before.items():
        answer = revalidate(anonymous, path, held.headers["etag"])
        if path == "/sessions.ics" and anonymous.get(path).content == held.content:
            # The feed shows neither capacity nor status: same bytes, so the same ETag, and 304.
            assert answer.status_code == 304, path
            continue
        assert answer.status_code == 200, path
        assert answer.headers["etag"] != held.headers["etag"], path
        assert answer.content != held.content, path
    listing = anonymous.get("/sessions").json()
    assert changed(listing["items"][0])
    assert changed(anonymous.get(f"/sessions/{session['id']}").json())


def test_publishing_changes_the_etags_at_once(anonymous, secretariat):
    session = create_session(secretariat)
    public_listing = etag_of(anonymous, "/sessions")
    private_detail = etag_of(secretariat, f"/sessions/{session['id']}")
    assert secretariat.post(f"/sessions/{session['id']}/publish").status_code == 200
    answer = revalidate(anonymous, "/sessions", public_listing)
    assert answer.status_code == 200
    assert [item["id"] for item in answer.json()["items"]] == [session["id"]]
    answer = revalidate(secretariat, f"/sessions/{session['id']}", private_detail)
    assert answer.status_code == 200
    assert answer.json()["status"] == "published"


def test_deleting_a_draft_changes_the_listing_etag(secretariat):
    session = create_session(secretariat)
    etag = etag_of(secretariat, "/sessions")
    assert secretariat.delete(f"/sessions/{session['id']}").status_code == 204
    answer = revalidate(secretariat, "/sessions", etag)
    assert answer.status_code == 200
    assert answer.json()["total"] == 0


def test_the_listing_etag_changes_with_the_date_in_paris(anonymous, secretariat, clock):
    session = published_session(secretariat, application_deadline="2027-02-18")
    clock.set(datetime(2027, 2, 18, 22, 30, tzinfo=UTC))  # 23:30 in Paris, the last day
    etags = {path: etag_of(anonymous, path) for path in ("/sessions", f"/sessions/{session['id']}")}
    assert anonymous.get("/sessions").json()["items"][0]["open_for_applications"] is True
    clock.set(datetime(2027, 2, 18, 23, 30, tzinfo=UTC))  # 00:30 in Paris, the day after
    for path, etag in etags.items():
        answer = revalidate(anonymous, path, etag)
        assert answer.status_code == 200, path
    assert anonymous.get("/sessions").json()["items"][0]["open_for_applications"] is False


@pytest.fixture
def second_process(settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    """Another instance of the service on the same database, with a cache of its own."""
    other: FastAPI = create_app(settings, clock=clock)
    with TestClient(other, base_url="http://testserver/api/v1") as client:
        yield client
    other.state.engine.dispose()


def test_a_write_in_one_process_changes_the_etags_served_by_another(anonymous, secretariat, second_process):
    session = published_session(secretariat)
    paths = ["/sessions", f"/sessions/{session['id']}", "/sessions.ics"]
    before = {path: etag_of(second_process, path) for path in paths}
    assert secretariat.patch(f"/sessions/{session['id']}", json={"title": "Nouveau titre"}).status_code == 200
    for path, etag in before.items():
        answer = revalidate(second_process, path, etag)
        assert answer.status_code == 200, path
    assert second_process.get("/sessions").json()["items"][0]["title"] == "Nouveau titre"


# CORS and security headers


@pytest.mark.parametrize("path", ["/sessions", "/sessions/{slug}", "/sessions.ics"])
def test_public_reads_allow_any_origin_without_credentials(anonymous, secretariat, path):
    session = published_session(secretariat)
    answer = anonymous.get(path.format(slug=session["slug"]), headers={"Origin": ORIGIN})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers
    assert "etag" in answer.headers["access-control-expose-headers"].lower()


def test_preflight_for_a_public_read_is_allowed(anonymous):
    answer = anonymous.options(
        "/sessions",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "GET" in answer.headers["access-control-allow-methods"]
    assert "if-none-match" in answer.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in answer.headers


def test_writes_are_not_cors_enabled(secretariat):
    answer = secretariat.post("/sessions", json=session_payload(), headers={"Origin": ORIGIN})
    assert answer.status_code == 201
    assert "access-control-allow-origin" not in answer.headers
    session_id = answer.json()["id"]
    answer = secretariat.patch(f"/sessions/{session_id}", json={"capacity": 3}, headers={"Origin": ORIGIN})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers
    preflight = secretariat.options(
        "/sessions", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/sessions", {}, 200),
        ("GET", "/sessions.ics", {}, 200),
        ("GET", "/sessions/no-such-session", {}, 404),
        ("GET", "/sessions", {"params": {"limit": 101}}, 422),
        ("POST", "/sessions", {"json": {}}, 401),
        (
            "OPTIONS",
            "/sessions",
            {"headers": {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}},
            204,
        ),
        ("GET", "/sessions", {"headers": {"If-None-Match": "*"}}, 304),
    ],
)
def test_every_answer_carries_the_security_headers(anonymous, method, path, kwargs, status):
    answer = anonymous.request(method, path, **kwargs)
    assert answer.status_code == status
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"]


# iCalendar


def test_calendar_feed_has_one_event_per_public_session(anonymous, secretariat):
    create_session(secretariat, title="Brouillon")
    cancelled = published_session(secretariat, title="Annulée")
    secretariat.post(f"/sessions/{cancelled['id']}/cancel")
    first = published_session(
        secretariat, title="Écritures numériques — « été »", start_date="2027-03-01", end_date="2027-03-06"
    )
    second = published_session(secretariat, title="Les ateliers des cultures numériques #3")

    events = events_of(anonymous.get("/sessions.ics"))

    assert [str(event["SUMMARY"]) for event in events] == [first["title"], second["title"]]
    assert len({str(event["UID"]) for event in events}) == 2
    start, end = events[1]["DTSTART"].dt, events[1]["DTEND"].dt
    assert (start.date(), start.time(), start.tzinfo.key) == (date(2027, 3, 8), time(9, 30), "Europe/Paris")
    assert (end.date(), end.time(), end.tzinfo.key) == (date(2027, 3, 13), time(17, 30), "Europe/Paris")
    assert start.astimezone(UTC) == datetime(2027, 3, 8, 8, 30, tzinfo=UTC)


def test_calendar_feed_defines_the_paris_time_zone(anonymous, secretariat):
    published_session(secretariat)
    calendar = Calendar.from_ical(anonymous.get("/sessions.ics").content)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]


def test_calendar_feed_uses_summer_time_in_summer(anonymous, secretariat):
    published_session(secretariat, start_date="2027-07-05", end_date="2027-07-09")
    (event,) = events_of(anonymous.get("/sessions.ics"))
    assert event["DTSTART"].dt.astimezone(UTC) == datetime(2027, 7, 5, 7, 30, tzinfo=UTC)


def test_calendar_feed_carries_every_session_not_a_page(anonymous, secretariat):
    for n in range(21):
        published_session(secretariat, title=f"Session {n}")
    assert len(events_of(anonymous.get("/sessions.ics"))) == 21
    assert len(events_of(anonymous.get("/sessions.ics", params={"limit": 5}))) == 5


def test_calendar_feed_applies_the_listing_filters(anonymous, secretariat):
    published_session(secretariat, city="Paris")
    lyon = published_session(secretariat, city="Lyon", title="Atelier à Lyon")
    events = events_of(anonymous.get("/sessions.ics", params={"city": "lyon"}))
    assert [str(event["SUMMARY"]) for event in events] == [lyon["title"]]
    answer = anonymous.get("/sessions.ics", params={"from": "2027-03-14", "to": "2027-03-13"})
    assert answer.status_code == 422


def test_calendar_feed_answers_304_and_changes_after_a_write(anonymous, secretariat):
    session = published_session(secretariat)
    etag = etag_of(anonymous, "/sessions.ics")
    assert STRONG_ETAG.match(etag)
    assert revalidate(anonymous, "/sessions.ics", etag).status_code == 304
    secretariat.patch(f"/sessions/{session['id']}", json={"title": "Titre changé"})
    answer = revalidate(anonymous, "/sessions.ics", etag)
    assert [str(event["SUMMARY"]) for event in events_of(answer)] == ["Titre changé"]


# The brochure, loaded by the demo seed


@pytest.fixture
def seed(app: FastAPI, clock: FixedClock) -> Callable[[], None]:
    def run() -> None:
        with open_session(app.state.engine, write=True) as db:
            seed_demo(db, now=clock.now(), passwords=app.state.passwords)
            db.commit()

    return run


def test_demo_seed_loads_the_brochure_session_exactly(anonymous, seed):
    seed()
    session = anonymous.get("/sessions/les-ateliers-des-cultures-numeriques-1").json()
    expected = {
        "title": "Les ateliers des cultures numériques #1",
        "city": "Paris",
        "start_date": "2016-03-07",
        "end_date": "2016-03-12",
        "days": 6,
        "hours": 45,
        "price_cents": 200_000,
        "currency": "EUR",
        "capacity": 25,
        "seats_remaining": 25,
        "application_deadline": "2016-02-18",
        "postmark_counts": True,
        "status": "completed",
        "open_for_applications": False,
    }
    assert {name: session[name] for name in expected} == expected
    # "Ces frais ne comprennent pas les frais de déplacement, de repas et d’hébergement."
    assert session["price_excludes"] == ["déplacement", "repas", "hébergement"]
    assert date.fromisoformat(session["start_date"]).weekday() == 0  # a Monday
    assert date.fromisoformat(session["end_date"]).weekday() == 5  # to a Saturday
    assert len(session["trainers"]) == 2


def test_demo_seed_publishes_an_open_next_edition(anonymous, seed, clock):
    seed()
    body = anonymous.get("/sessions", params={"open": True}).json()
    (edition,) = body["items"]
    assert edition["slug"] == "les-ateliers-des-cultures-numeriques-2"
    assert edition["status"] == "published"
    assert edition["open_for_applications"] is True
    assert date.fromisoformat(edition["start_date"]) > clock.now().date()
    assert date.fromisoformat(edition["application_deadline"]) >= clock.now().date()


def test_seeding_twice_changes_nothing(anonymous, seed):
    seed()
    before = anonymous.get("/sessions")
    brochure = anonymous.get("/sessions/les-ateliers-des-cultures-numeriques-1").json()
    seed()
    after = anonymous.get("/sessions")
    assert after.headers["etag"] == before.headers["etag"]
    assert after.json()["total"] == before.json()["total"] == 2
    assert after.json() == before.json()
    assert revalidate(anonymous, "/sessions", before.headers["etag"]).status_code == 304
    assert anonymous.get("/sessions/les-ateliers-des-cultures-numeriques-1").json() == brochure
