"""The session catalogue through HTTP: who sees what, filters and paging, writes, states, trainers.

Caching, CORS, the iCalendar feed and the demo brochure are in test_sessions_calendar.py.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import START, AppClient
from tests.factories import create_session, published_session, session_payload
from tests.problems import assert_problem

# The actions that lead a new draft to each state.
WALKS: dict[str, list[str]] = {
    "draft": [],
    "published": ["publish"],
    "closed": ["publish", "close"],
    "completed": ["publish", "close", "complete"],
    "cancelled": ["publish", "cancel"],
}
RACERS = 8
ACTIONS = ["publish", "close", "reopen", "complete", "cancel"]
# (action, from state) -> the state it leads to; every other pair is an invalid transition.
ALLOWED: dict[tuple[str, str], str] = {
    ("publish", "draft"): "published",
    ("close", "published"): "closed",
    ("reopen", "closed"): "published",
    ("complete", "closed"): "completed",
    ("cancel", "published"): "cancelled",
    ("cancel", "closed"): "cancelled",
}


def assert_invalid(answer: httpx.Response, *loc: str | int) -> None:
    """A 422 validation_error whose errors list names `loc` (a prefix of an error's loc)."""
    body = assert_problem(answer, 422, "validation_error")
    assert body["errors"], body
    assert all(set(error) >= {"loc", "msg"} for error in body["errors"])
    assert any(error["loc"][: len(loc)] == list(loc) for error in body["errors"]), body["errors"]


def session_in(client: TestClient, state: str, **overrides: Any) -> dict[str, Any]:
    """A session walked by the secretariat `client` into `state`."""
    session = create_session(client, **overrides)
    for action in WALKS[state]:
        answer = client.post(f"/sessions/{session['id']}/{action}")
        assert answer.status_code == 200, answer.text
        session = answer.json()
    assert session["status"] == state
    return session


def listed_ids(client: TestClient, **params: Any) -> list[int]:
    answer = client.get("/sessions", params=params)
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def detail(client: TestClient, id_or_slug: int | str) -> dict[str, Any]:
    answer = client.get(f"/sessions/{id_or_slug}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def race(app: FastAPI, as_client: TestClient, call: Callable[[TestClient, int], httpx.Response]) -> list[int]:
    """Run `call(client, n)` from RACERS clients carrying `as_client`'s credentials at once; the statuses."""
    clients = [AppClient(app) for _ in range(RACERS)]
    for client in clients:
        client.headers["Authorization"] = as_client.headers["Authorization"]
    try:
        with ThreadPoolExecutor(RACERS) as pool:
            answers = list(pool.map(call, clients, range(RACERS)))
    finally:
        for client in clients:
            client.close()
    return sorted(answer.status_code for answer in answers)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def one_of_each(secretariat) -> dict[str, int]:
    """One session in every state, with start dates in state order."""
    return {
        state: session_in(secretariat, state, start_date=f"2027-03-0{day}", end_date=f"2027-03-0{day}")["id"]
        for day, state in enumerate(WALKS, start=1)
    }


# Listing: who sees what


@pytest.mark.parametrize("role", ["anonymous", "applicant", "trainer"])
def test_public_listing_shows_published_closed_and_completed_only(request, role, one_of_each):
    client = request.getfixturevalue(role)
    answer = client.get("/sessions")
    assert answer.status_code == 200
    body = answer.json()
    assert [item["status"] for item in body["items"]] == ["published", "closed", "completed"]
    assert [item["id"] for item in body["items"]] == [
        one_of_each["published"],
        one_of_each["closed"],
        one_of_each["completed"],
    ]
    assert body["total"] == 3


def test_anonymous_cannot_see_drafts_even_when_filtering_on_them(anonymous, one_of_each):
    assert listed_ids(anonymous, status="draft") == []
    assert listed_ids(anonymous, status="cancelled") == []
    assert anonymous.get("/sessions", params={"status": "draft"}).json()["total"] == 0


def test_secretariat_sees_every_state(secretariat, one_of_each):
    body = secretariat.get("/sessions").json()
    assert [item["id"] for item in body["items"]] == list(one_of_each.values())
    assert body["total"] == 5


@pytest.mark.parametrize("state", list(WALKS))
def test_status_filter_keeps_only_that_state(secretariat, one_of_each, state):
    assert listed_ids(secretariat, status=state) == [one_of_each[state]]


def test_unknown_status_filter_is_a_validation_error(anonymous):
    assert_invalid(anonymous.get("/sessions", params={"status": "archived"}), "query", "status")


# Listing: filters


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({"from": "2027-03-13"}, True),
        ({"to": "2027-03-08"}, True),
        ({"from": "2027-03-08", "to": "2027-03-13"}, True),
        ({"from": "2027-03-10", "to": "2027-03-10"}, True),
        ({"from": "2027-03-01", "to": "2027-03-31"}, True),
        ({"from": "2027-03-14"}, False),
        ({"to": "2027-03-07"}, False),
        ({"from": "2027-02-01", "to": "2027-03-07"}, False),
    ],
)
def test_date_filters_find_sessions_overlapping_inclusive_bounds(anonymous, secretariat, params, found):
    session = published_session(secretariat, start_date="2027-03-08", end_date="2027-03-13")
    assert listed_ids(anonymous, **params) == ([session["id"]] if found else [])


def test_from_after_to_is_a_validation_error(anonymous):
    assert_invalid(anonymous.get("/sessions", params={"from": "2027-03-14", "to": "2027-03-13"}), "query")


@pytest.mark.parametrize("params", [{"from": "2027-02-30"}, {"to": "demain"}, {"open": "peut-être"}])
def test_malformed_filters_are_validation_errors(anonymous, params):
    (name,) = params
    assert_invalid(anonymous.get("/sessions", params=params), "query", name)


@pytest.mark.parametrize(
    ("city", "expected"),
    [
        ("Paris", "paris"),
        ("paris", "paris"),
        ("PARIS", "paris"),
        (" Paris ", "paris"),
        ("Évry", "evry"),
        ("évry", "evry"),
        ("ÉVRY", "evry"),
        ("E\u0301vry", "evry"),  # decomposed accent
        ("Lyon", None),
        ("Par", None),
    ],
)
def test_city_filter_ignores_case(anonymous, secretariat, city, expected):
    sessions = {
        "paris": published_session(secretariat, city="Paris")["id"],
        "evry": published_session(secretariat, city="Évry")["id"],
    }
    assert listed_ids(anonymous, city=city) == ([sessions[expected]] if expected else [])


@pytest.fixture
def searchable(secretariat) -> dict[str, int]:
    """Sessions whose title, subtitle, summary or description alone holds a searchable word."""
    texts = {
        "title": ("Cultures numériques", "", ""),
        "subtitle": ("Atelier photo", "Le regard documentaire", ""),
        "summary": ("Atelier son", "", "Enregistrer le paysage sonore urbain."),
        "percent": ("Financer 100 % de sa formation", "", ""),
        "underscore": ("Nommer un nom_de_fichier", "", ""),
        "nomade": ("Atelier nomade", "", ""),
    }
    ids = {
        name: published_session(secretariat, title=title, subtitle=subtitle, summary=summary)["id"]
        for name, (title, subtitle, summary) in texts.items()
    }
    ids["description"] = published_session(
        secretariat, title="Atelier vidéo", subtitle="", summary="", description="Montage cinématographique"
    )["id"]
    return ids


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("numerique", ["title"]),
        ("numérique", ["title"]),
        ("NUMÉRIQUE", ["title"]),
        ("NUMERIQUES", ["title"]),
        ("Documentaire", ["subtitle"]),
        ("paysage SONORE", ["summary"]),
        ("%", ["percent"]),
        ("100 %", ["percent"]),
        ("_", ["underscore"]),
        ("nom_de", ["underscore"]),
        ("nomade", ["nomade"]),
        ("cinématographique", []),
        ("introuvable", []),
    ],
)
def test_q_is_a_literal_case_and_accent_insensitive_substring(anonymous, searchable, q, expected):
    assert listed_ids(anonymous, q=q) == [searchable[name] for name in expected]


def test_q_longer_than_its_limit_is_a_validation_error(anonymous):
    assert_invalid(anonymous.get("/sessions", params={"q": "x" * 201}), "query", "q")


@pytest.fixture
def deadlines(secretariat) -> dict[str, int]:
    return {
        "open": published_session(secretariat, application_deadline="2027-02-18")["id"],
        "earlier": published_session(secretariat, application_deadline="2027-02-10")["id"],
        "closed": session_in(secretariat, "closed", application_deadline="2027-02-18")["id"],
        "draft": create_session(secretariat, application_deadline="2027-02-18")["id"],
    }


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (START, ["open", "earlier"]),
        (datetime(2027, 2, 10, 22, 59, tzinfo=UTC), ["open", "earlier"]),  # 23:59 in Paris
        (datetime(2027, 2, 10, 23, 0, tzinfo=UTC), ["open"]),  # midnight in Paris
        (datetime(2027, 2, 18, 22, 30, tzinfo=UTC), ["open"]),  # 23:30 in Paris on the deadline
        (datetime(2027, 2, 18, 23, 0, tzinfo=UTC), []),
        (datetime(2027, 2, 19, 9, 0, tzinfo=UTC), []),
    ],
)
def test_open_filter_keeps_published_sessions_until_deadline_day_in_paris(
    anonymous, clock, deadlines, now, expected
):
    clock.set(now)
    assert listed_ids(anonymous, open=True) == [deadlines[name] for name in expected]
    for name, session_id in deadlines.items():
        if name != "draft":
            assert detail(anonymous, session_id)["open_for_applications"] == (name in expected)


# Listing: paging and order


def test_listing_pages_by_twenty_by_default(secretariat):
    for n in range(21):
        create_session(secretariat, title=f"Session {n}")
    first = secretariat.get("/sessions").json()
    assert (len(first["items"]), first["total"], first["limit"], first["offset"]) == (20, 21, 20, 0)
    rest = secretariat.get("/sessions", params={"offset": 20}).json()
    assert (len(rest["items"]), rest["total"], rest["limit"], rest["offset"]) == (1, 21, 20, 20)
    assert {item["id"] for item in first["items"]}.isdisjoint({rest["items"][0]["id"]})


def test_listing_is_ordered_by_start_date_then_id_and_paged(anonymous, secretariat):
    def dated(start: str) -> int:
        return published_session(secretariat, start_date=start, end_date=start)["id"]

    may = dated("2027-05-03")
    april = dated("2027-04-05")
    april_later_id = dated("2027-04-05")
    march = dated("2027-03-01")
    assert listed_ids(anonymous) == [march, april, april_later_id, may]
    page = anonymous.get("/sessions", params={"limit": 2, "offset": 1}).json()
    assert [item["id"] for item in page["items"]] == [april, april_later_id]
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)
    assert listed_ids(anonymous, offset=4) == []


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"limit": "x"}, "limit"),
    ],
)
def test_paging_out_of_bounds_is_a_validation_error(anonymous, params, name):
    assert_invalid(anonymous.get("/sessions", params=params), "query", name)


def test_limit_of_one_hundred_is_accepted(anonymous):
    assert anonymous.get("/sessions", params={"limit": 100}).json()["limit"] == 100


def test_listing_items_carry_the_same_fields_as_the_detail(anonymous, secretariat, trainer):
    session = published_session(secretariat)
    secretariat.put(f"/sessions/{session['id']}/trainers", json={"trainer_ids": [trainer.user["id"]]})
    (item,) = anonymous.get("/sessions").json()["items"]
    assert item == detail(anonymous, session["id"])


# Detail


def test_detail_by_id_and_by_slug_are_the_same(anonymous, secretariat):
    session = published_session(secretariat)
    assert detail(anonymous, session["slug"]) == detail(anonymous, session["id"]) == session


def test_detail_computes_seats_and_openness(anonymous, secretariat):
    session = published_session(secretariat, capacity=12)
    body = detail(anonymous, session["id"])
    assert body["seats_remaining"] == 12
    assert body["open_for_applications"] is True
    assert body["trainers"] == []


@pytest.mark.parametrize("state", ["draft", "closed", "completed", "cancelled"])
def test_only_a_published_session_is_open_for_applications(secretariat, state):
    session = session_in(secretariat, state)
    assert detail(secretariat, session["id"])["open_for_applications"] is False


@pytest.mark.parametrize(
    "ref", ["999999", "no-such-session", "2147483648", "9223372036854775807", "99999999999999999999999"]
)
def test_unknown_session_is_not_found(anonymous, ref):
    assert_problem(anonymous.get(f"/sessions/{ref}"), 404, "not_found")


@pytest.mark.parametrize("role", ["anonymous", "applicant", "trainer"])
@pytest.mark.parametrize("state", ["draft", "cancelled"])
def test_private_states_are_not_found_for_the_public(request, secretariat, role, state):
    session = session_in(secretariat, state)
    client = request.getfixturevalue(role)
    assert_problem(client.get(f"/sessions/{session['id']}"), 404, "not_found")
    assert_problem(client.get(f"/sessions/{session['slug']}"), 404, "not_found")


def test_secretariat_reads_a_draft(secretariat):
    session = create_session(secretariat)
    assert detail(secretariat, session["slug"])["status"] == "draft"


# Create


def test_secretariat_creates_a_draft_with_location(secretariat):
    answer = secretariat.post("/sessions", json=session_payload())
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "draft"
    assert answer.headers["location"] == f"/api/v1/sessions/{body['id']}"
    assert secretariat.get(f"http://testserver{answer.headers['location']}").json() == body
    for name, value in session_payload().items():
        assert body[name] == value, name
    assert body["days"] == 6
    assert body["currency"] == "EUR"
    assert body["seats_remaining"] == 25
    assert body["open_for_applications"] is False
    assert moment(body["created_at"]) == moment(body["updated_at"]) == START


def test_slug_is_made_from_the_title_without_accents(secretariat):
    session = create_session(secretariat, title="Été numérique à Orléans : œuvres #2")
    assert session["slug"] == "ete-numerique-a-orleans-oeuvres-2"
    assert detail(secretariat, "ete-numerique-a-orleans-oeuvres-2")["id"] == session["id"]


def test_sessions_with_the_same_title_get_different_slugs(secretariat):
    first = create_session(secretariat, title="Atelier d’écriture")
    second = create_session(secretariat, title="Atelier d’écriture")
    assert first["slug"] != second["slug"]
    assert detail(secretariat, first["slug"])["id"] == first["id"]
    assert detail(secretariat, second["slug"])["id"] == second["id"]


@pytest.mark.parametrize("title", ["€" * 200, "ﬃ " * 100, "Œuvre ß " * 25])
def test_a_slug_made_from_the_longest_title_fits_its_column(anonymous, secretariat, title):
    # Transliteration lengthens ("€" -> "eur"); the slug column keeps 120 characters.
    first = published_session(secretariat, title=title)
    second = published_session(secretariat, title=title)
    for session in (first, second):
        assert 0 < len(session["slug"]) <= 120
        assert detail(anonymous, session["slug"])["id"] == session["id"]
    assert first["slug"] != second["slug"]


def test_explicit_slug_is_kept_and_a_duplicate_is_slug_taken(secretariat):
    assert create_session(secretariat, slug="printemps-2027")["slug"] == "printemps-2027"
    answer = secretariat.post("/sessions", json=session_payload(slug="printemps-2027", title="Autre"))
    assert_problem(answer, 409, "slug_taken")
    assert secretariat.get("/sessions").json()["total"] == 1


def test_concurrent_creations_with_one_title_all_get_distinct_slugs(app, secretariat):
    statuses = race(app, secretariat, lambda client, _: client.post("/sessions", json=session_payload()))
    assert statuses == [201] * RACERS
    items = secretariat.get("/sessions").json()["items"]
    assert len({item["slug"] for item in items}) == RACERS


def test_concurrent_creations_with_one_explicit_slug_create_it_once(app, secretariat):
    def create(client: TestClient, n: int) -> httpx.Response:
        return client.post("/sessions", json=session_payload(slug="meme-slug", title=f"Session {n}"))

    assert race(app, secretariat, create) == [201] + [409] * (RACERS - 1)
    assert secretariat.get("/sessions").json()["total"] == 1


def test_concurrent_renamings_to_one_slug_rename_one_session(app, secretariat):
    ids = [create_session(secretariat)["id"] for _ in range(RACERS)]

    def rename(client: TestClient, n: int) -> httpx.Response:
        return client.patch(f"/sessions/{ids[n]}", json={"slug": "meme-slug"})

    assert race(app, secretariat, rename) == [200] + [409] * (RACERS - 1)
    assert [item["slug"] for item in secretariat.get("/sessions").json()["items"]].count("meme-slug") == 1


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_only_the_secretariat_creates_sessions(request, secretariat, role):
    client = request.getfixturevalue(role)
    assert_problem(client.post("/sessions", json=session_payload()), 403, "forbidden")
    assert secretariat.get("/sessions").json()["total"] == 0


def test_anonymous_create_is_unauthorized_with_bearer_challenge(anonymous):
    answer = anonymous.post("/sessions", json=session_payload())
    assert_problem(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"] == "Bearer"


BAD_INPUTS: list[Any] = [
    pytest.param({"title": None}, ("body", "title"), id="null-title"),
    pytest.param({"title": 123}, ("body", "title"), id="title-not-a-string"),
    pytest.param({"title": ""}, ("body", "title"), id="empty-title"),
    pytest.param({"capacity": "beaucoup"}, ("body", "capacity"), id="capacity-not-a-number"),
    pytest.param({"capacity": 2.5}, ("body", "capacity"), id="capacity-fractional"),
    pytest.param({"objectives": "tout"}, ("body", "objectives"), id="objectives-not-a-list"),
    pytest.param({"postmark_counts": "peut-être"}, ("body", "postmark_counts"), id="bool-not-a-bool"),
    pytest.param({"start_date": "le 8 mars"}, ("body", "start_date"), id="date-not-a-date"),
    pytest.param({"start_date": "2027-02-30"}, ("body", "start_date"), id="impossible-date"),
    pytest.param({"end_date": "2027-03-07"}, ("body", "end_date"), id="end-before-start"),
    pytest.param(
        {"application_deadline": "2027-03-09"}, ("body", "application_deadline"), id="late-deadline"
    ),
    pytest.param({"days": 7}, ("body", "days"), id="more-days-than-the-dates-span"),
    pytest.param({"capacity": -1}, ("body", "capacity"), id="negative-capacity"),
    pytest.param({"capacity": 0}, ("body", "capacity"), id="zero-capacity"),
    pytest.param({"price_cents": -1}, ("body", "price_cents"), id="negative-price"),
    pytest.param({"capacity": 2**64}, ("body", "capacity"), id="capacity-beyond-64-bits"),
    pytest.param({"capacity": 101}, ("body", "capacity"), id="capacity-over-a-hundred"),
    pytest.param({"end_date": "2027-04-08"}, ("body", "end_date"), id="dates-over-31-days"),
    pytest.param({"end_date": "2028-03-07", "days": 366}, ("body", "days"), id="a-year-of-days"),
    pytest.param({"price_cents": 2**70}, ("body", "price_cents"), id="price-beyond-64-bits"),
    pytest.param({"hours": -(2**63) - 1}, ("body", "hours"), id="hours-below-64-bits"),
    pytest.param({"title": "x" * 201}, ("body", "title"), id="oversized-title"),
    pytest.param({"summary": "x" * 5001}, ("body", "summary"), id="oversized-summary"),
    pytest.param({"topics": ["x" * 501]}, ("body", "topics", 0), id="oversized-list-item"),
    pytest.param({"topics": ["x"] * 51}, ("body", "topics"), id="too-many-list-items"),
    pytest.param({"title": "Atelier\x00numérique"}, ("body", "title"), id="nul-byte-in-title"),
    pytest.param({"city": "Paris\x00"}, ("body", "city"), id="nul-byte-in-city"),
    pytest.param({"currency": "USD"}, ("body", "currency"), id="unknown-currency"),
    pytest.param({"slug": "Pas un slug"}, ("body", "slug"), id="malformed-slug"),
    pytest.param({"slug": "2027"}, ("body", "slug"), id="slug-that-looks-like-an-id"),
    pytest.param({"contact_email": "pas-un-courriel"}, ("body", "contact_email"), id="malformed-email"),
]


@pytest.mark.parametrize(("overrides", "loc"), BAD_INPUTS)
def test_bad_session_input_is_a_validation_error(secretariat, overrides, loc):
    assert_invalid(secretariat.post("/sessions", json=session_payload(**overrides)), *loc)
    assert secretariat.get("/sessions").json()["total"] == 0


def test_a_session_spans_at_most_31_days_for_at_most_100_trainees(secretariat):
    # What bounds its attendance sheet: the brochure's session is 6 days for 25 trainees.
    session = create_session(secretariat, end_date="2027-04-07", capacity=100)
    assert (session["days"], session["capacity"]) == (31, 100)


@pytest.mark.parametrize(
    "missing", ["title", "start_date", "end_date", "hours", "city", "capacity", "price_cents"]
)
def test_missing_required_field_is_a_validation_error(secretariat, missing):
    payload = session_payload()
    del payload[missing]
    assert_invalid(secretariat.post("/sessions", json=payload), "body", missing)


@pytest.mark.parametrize("raw", [b"{", b"[]", b'"session"', b'{"title": "\\ud800"}'])
def test_malformed_json_body_is_a_validation_error(secretariat, raw):
    answer = secretariat.post("/sessions", content=raw, headers={"content-type": "application/json"})
    assert_problem(answer, 422, "validation_error")


def test_french_text_round_trips_exactly(secretariat):
    french = {
        "title": "L’œuvre à l’ère « numérique » : 2\u202f000\u00a0€, ça vaut‑il le coût ?",
        "subtitle": "Écrire, éditer, diffuser — «\u00a0déjà\u00a0» demain",
        "summary": "Cinq jours d’ateliers… et un sixième de restitution.",
        "venue": "Maison de l’Île-de-France",
        "objectives": ["S’approprier les outils", "Ôter les œillères"],
        "price_excludes": ["hébergement", "déjeuners (15 € environ)"],
        "city": "Saint-Étienne",
    }
    answer = secretariat.post("/sessions", json=session_payload(**french))
    assert answer.status_code == 201, answer.text
    assert "€".encode() in answer.content  # UTF-8 as it is, not \u escapes
    for body in (answer.json(), detail(secretariat, answer.json()["id"])):
        for name, value in french.items():
            assert body[name] == value, name


# PATCH


def test_patch_changes_the_given_fields_and_keeps_the_others(secretariat, clock):
    session = published_session(secretariat)
    before = detail(secretariat, session["id"])
    later = datetime(2027, 1, 14, 9, 10, tzinfo=UTC)  # within the access token's lifetime
    clock.set(later)
    answer = secretariat.patch(f"/sessions/{session['id']}", json={"capacity": 30, "city": "Lyon"})
    assert answer.status_code == 200, answer.text
    after = detail(secretariat, session["id"])
    assert answer.json() == after
    assert (after["capacity"], after["seats_remaining"], after["city"]) == (30, 30, "Lyon")
    assert moment(after["updated_at"]) == later
    changed = {"capacity", "seats_remaining", "city", "updated_at"}
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.items() if k not in changed
    }


def test_patch_title_refreshes_search_but_keeps_the_slug(anonymous, secretariat):
    session = published_session(secretariat, title="Atelier photo", subtitle="", summary="")
    secretariat.patch(f"/sessions/{session['id']}", json={"title": "Atelier vidéo"})
    assert listed_ids(anonymous, q="video") == [session["id"]]
    assert listed_ids(anonymous, q="photo") == []
    assert detail(anonymous, session["id"])["slug"] == session["slug"]


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"title": None}, ("body", "title")),
        ({"capacity": None}, ("body", "capacity")),
        ({"capacity": 0}, ("body", "capacity")),
        ({"end_date": "2027-03-07"}, ("body", "end_date")),
        ({"start_date": "2027-03-14"}, ("body", "end_date")),
        ({"end_date": "2027-04-08"}, ("body", "end_date")),
        ({"start_date": "2027-02-05", "application_deadline": "2027-02-01"}, ("body", "end_date")),
        ({"capacity": 101}, ("body", "capacity")),
        ({"days": 32}, ("body", "days")),
        ({"application_deadline": "2027-03-09"}, ("body", "application_deadline")),
        ({"title": "x\x00"}, ("body", "title")),
    ],
)
def test_patch_that_would_make_the_session_invalid_changes_nothing(secretariat, change, loc):
    session = published_session(secretariat)
    before = detail(secretariat, session["id"])
    assert_invalid(secretariat.patch(f"/sessions/{session['id']}", json=change), *loc)
    assert detail(secretariat, session["id"]) == before


def test_patch_to_a_slug_in_use_is_slug_taken(secretariat):
    create_session(secretariat, slug="occupe")
    session = create_session(secretariat)
    assert_problem(
        secretariat.patch(f"/sessions/{session['id']}", json={"slug": "occupe"}), 409, "slug_taken"
    )
    assert detail(secretariat, session["id"])["slug"] == session["slug"]


@pytest.mark.parametrize("length", [121, 200])
def test_patching_a_city_longer_than_its_column_is_a_validation_error(secretariat, length):
    session = published_session(secretariat)
    before = detail(secretariat, session["id"])

    answer = secretariat.patch(f"/sessions/{session['id']}", json={"city": "V" * length})

    assert_invalid(answer, "body", "city")
    assert detail(secretariat, session["id"]) == before


def test_creating_a_session_with_a_city_longer_than_its_column_is_a_validation_error(secretariat):
    assert_invalid(secretariat.post("/sessions", json=session_payload(city="V" * 121)), "body", "city")
    assert secretariat.get("/sessions").json()["total"] == 0


def test_a_city_as_long_as_its_column_is_kept_whole(anonymous, secretariat):
    city = "Saint-Rémy-" + "é" * 109
    session = published_session(secretariat, city=city)
    assert detail(anonymous, session["id"])["city"] == city

    answer = secretariat.patch(f"/sessions/{session['id']}", json={"city": city[::-1]})

    assert answer.status_code == 200, answer.text
    assert detail(anonymous, session["id"])["city"] == city[::-1]


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_a_long_city_from_another_role_is_still_forbidden(request, secretariat, role):
    client = request.getfixturevalue(role)
    session = published_session(secretariat)

    assert_problem(client.patch(f"/sessions/{session['id']}", json={"city": "V" * 200}), 403, "forbidden")
    assert detail(secretariat, session["id"])["city"] == session["city"]


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_public_cannot_patch_a_published_session_and_cannot_see_a_draft(request, secretariat, role):
    client = request.getfixturevalue(role)
    published = published_session(secretariat)
    draft = create_session(secretariat)
    assert_problem(client.patch(f"/sessions/{published['id']}", json={"capacity": 1}), 403, "forbidden")
    assert_problem(client.patch(f"/sessions/{draft['id']}", json={"capacity": 1}), 404, "not_found")
    assert detail(secretariat, published["id"])["capacity"] == 25
    assert detail(secretariat, draft["id"])["capacity"] == 25


def test_anonymous_patch_is_unauthorized(anonymous, secretariat):
    session = published_session(secretariat)
    assert_problem(anonymous.patch(f"/sessions/{session['id']}", json={"capacity": 1}), 401, "unauthorized")


def test_patch_with_the_current_etag_succeeds(secretariat):
    session = published_session(secretariat)
    etag = secretariat.get(f"/sessions/{session['id']}").headers["etag"]
    answer = secretariat.patch(
        f"/sessions/{session['id']}", json={"capacity": 30}, headers={"If-Match": etag}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["capacity"] == 30
    # The answer's ETag is the new detail's, so a client can chain its writes.
    following = secretariat.patch(
        f"/sessions/{session['id']}", json={"capacity": 31}, headers={"If-Match": answer.headers["etag"]}
    )
    assert following.status_code == 200, following.text


def test_patch_with_a_stale_etag_is_precondition_failed_and_changes_nothing(secretariat):
    session = published_session(secretariat)
    stale = secretariat.get(f"/sessions/{session['id']}").headers["etag"]
    assert secretariat.patch(f"/sessions/{session['id']}", json={"capacity": 30}).status_code == 200
    current = detail(secretariat, session["id"])
    answer = secretariat.patch(
        f"/sessions/{session['id']}", json={"capacity": 40}, headers={"If-Match": stale}
    )
    assert_problem(answer, 412, "precondition_failed")
    assert detail(secretariat, session["id"]) == current
    assert current["capacity"] == 30


def test_transition_with_a_stale_etag_is_precondition_failed(secretariat):
    session = published_session(secretariat)
    stale = secretariat.get(f"/sessions/{session['id']}").headers["etag"]
    secretariat.patch(f"/sessions/{session['id']}", json={"capacity": 30})
    assert_problem(
        secretariat.post(f"/sessions/{session['id']}/close", headers={"If-Match": stale}),
        412,
        "precondition_failed",
    )
    assert detail(secretariat, session["id"])["status"] == "published"


# DELETE


def test_deleting_a_draft_removes_it(secretariat):
    session = create_session(secretariat)
    answer = secretariat.delete(f"/sessions/{session['id']}")
    assert answer.status_code == 204
    assert answer.content == b""
    assert_problem(secretariat.get(f"/sessions/{session['id']}"), 404, "not_found")
    assert secretariat.get("/sessions").json()["total"] == 0


@pytest.mark.parametrize("state", ["published", "closed", "completed", "cancelled"])
def test_deleting_anything_but_a_draft_is_invalid_transition(secretariat, state):
    session = session_in(secretariat, state)
    assert_problem(secretariat.delete(f"/sessions/{session['id']}"), 409, "invalid_transition")
    assert detail(secretariat, session["id"])["status"] == state


def test_deleting_a_draft_with_trainers_removes_it(secretariat, trainer):
    session = create_session(secretariat)
    secretariat.put(f"/sessions/{session['id']}/trainers", json={"trainer_ids": [trainer.user["id"]]})
    assert secretariat.delete(f"/sessions/{session['id']}").status_code == 204
    assert_problem(secretariat.get(f"/sessions/{session['id']}"), 404, "not_found")


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_public_cannot_delete(request, secretariat, role):
    client = request.getfixturevalue(role)
    draft = create_session(secretariat)
    published = published_session(secretariat)
    assert_problem(client.delete(f"/sessions/{draft['id']}"), 404, "not_found")
    assert_problem(client.delete(f"/sessions/{published['id']}"), 403, "forbidden")
    assert secretariat.get("/sessions").json()["total"] == 2


# Transitions


def test_session_lifecycle_with_a_reopening(secretariat):
    session = create_session(secretariat)
    for action, state in [
        ("publish", "published"),
        ("close", "closed"),
        ("reopen", "published"),
        ("close", "closed"),
        ("complete", "completed"),
    ]:
        answer = secretariat.post(f"/sessions/{session['id']}/{action}")
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == state
        assert detail(secretariat, session["id"])["status"] == state


@pytest.mark.parametrize("state", list(WALKS))
@pytest.mark.parametrize("action", ACTIONS)
def test_only_the_contract_transitions_are_allowed(secretariat, action, state):
    session = session_in(secretariat, state)
    answer = secretariat.post(f"/sessions/{session['id']}/{action}")
    target = ALLOWED.get((action, state))
    if target is None:
        assert_problem(answer, 409, "invalid_transition")
        assert detail(secretariat, session["id"])["status"] == state
    else:
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == target
        assert detail(secretariat, session["id"])["status"] == target


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_only_the_secretariat_changes_states(request, secretariat, role, action):
    client = request.getfixturevalue(role)
    draft = create_session(secretariat)
    published = published_session(secretariat)
    assert_problem(client.post(f"/sessions/{published['id']}/{action}"), 403, "forbidden")
    assert_problem(client.post(f"/sessions/{draft['id']}/{action}"), 404, "not_found")
    assert detail(secretariat, draft["id"])["status"] == "draft"
    assert detail(secretariat, published["id"])["status"] == "published"


@pytest.mark.parametrize("action", ACTIONS)
def test_anonymous_state_change_is_unauthorized(anonymous, secretariat, action):
    session = published_session(secretariat)
    answer = anonymous.post(f"/sessions/{session['id']}/{action}")
    assert_problem(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("ref", ["999999", "2147483648", "99999999999999999999999", "no-such-session"])
def test_writes_to_an_unknown_session_are_not_found(secretariat, ref):
    url = f"/sessions/{ref}"
    assert_problem(secretariat.patch(url, json={"capacity": 3}), 404, "not_found")
    assert_problem(secretariat.post(f"{url}/publish"), 404, "not_found")
    assert_problem(secretariat.put(f"{url}/trainers", json={"trainer_ids": []}), 404, "not_found")
    assert_problem(secretariat.delete(url), 404, "not_found")


# Trainers


def test_assigned_trainers_show_in_detail_and_listing(anonymous, secretariat, trainer, make_user):
    other = make_user("trainer", full_name="Hugo Lefèvre")
    session = published_session(secretariat)
    answer = secretariat.put(
        f"/sessions/{session['id']}/trainers", json={"trainer_ids": [other.user["id"], trainer.user["id"]]}
    )
    assert answer.status_code == 200, answer.text
    expected = sorted(
        [
            {"id": trainer.user["id"], "full_name": "Élise Formatrice"},
            {"id": other.user["id"], "full_name": "Hugo Lefèvre"},
        ],
        key=lambda ref: ref["id"],
    )
    assert answer.json()["trainers"] == expected
    assert detail(anonymous, session["id"])["trainers"] == expected
    assert anonymous.get("/sessions").json()["items"][0]["trainers"] == expected


def test_assigning_trainers_replaces_them_and_an_empty_list_clears(secretariat, trainer, make_user):
    other = make_user("trainer", full_name="Hugo Lefèvre")
    session = published_session(secretariat)
    url = f"/sessions/{session['id']}/trainers"
    secretariat.put(url, json={"trainer_ids": [trainer.user["id"]]})
    answer = secretariat.put(url, json={"trainer_ids": [other.user["id"]]})
    assert answer.json()["trainers"] == [{"id": other.user["id"], "full_name": "Hugo Lefèvre"}]
    assert detail(secretariat, session["id"])["trainers"] == [
        {"id": other.user["id"], "full_name": "Hugo Lefèvre"}
    ]
    assert secretariat.put(url, json={"trainer_ids": []}).json()["trainers"] == []
    assert detail(secretariat, session["id"])["trainers"] == []


def test_a_trainer_named_twice_is_assigned_once(secretariat, trainer):
    session = published_session(secretariat)
    ids = [trainer.user["id"], trainer.user["id"]]
    answer = secretariat.put(f"/sessions/{session['id']}/trainers", json={"trainer_ids": ids})
    assert answer.json()["trainers"] == [{"id": trainer.user["id"], "full_name": "Élise Formatrice"}]


@pytest.mark.parametrize("who", ["applicant", "secretariat", "unknown", "inactive"])
def test_only_active_trainers_can_be_assigned(request, secretariat, trainer, make_user, who):
    session = published_session(secretariat)
    url = f"/sessions/{session['id']}/trainers"
    secretariat.put(url, json={"trainer_ids": [trainer.user["id"]]})
    if who == "unknown":
        user_id = 999_999
    elif who == "inactive":
        user_id = make_user("trainer").user["id"]
        assert secretariat.patch(f"/users/{user_id}", json={"active": False}).status_code == 200
    else:
        user_id = request.getfixturevalue(who).user["id"]
    answer = secretariat.put(url, json={"trainer_ids": [trainer.user["id"], user_id]})
    assert_invalid(answer, "body", "trainer_ids", 1)
    assert [ref["id"] for ref in detail(secretariat, session["id"])["trainers"]] == [trainer.user["id"]]


@pytest.mark.parametrize(
    "body",
    [{}, {"trainer_ids": None}, {"trainer_ids": ["x"]}, {"trainer_ids": [2**64]}, {"trainer_ids": [0]}],
)
def test_malformed_trainer_assignment_is_a_validation_error(secretariat, body):
    session = published_session(secretariat)
    assert_invalid(secretariat.put(f"/sessions/{session['id']}/trainers", json=body), "body")


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_only_the_secretariat_assigns_trainers(request, secretariat, trainer, role):
    client = request.getfixturevalue(role)
    session = published_session(secretariat)
    answer = client.put(f"/sessions/{session['id']}/trainers", json={"trainer_ids": [trainer.user["id"]]})
    assert_problem(answer, 403, "forbidden")
    assert detail(secretariat, session["id"])["trainers"] == []
