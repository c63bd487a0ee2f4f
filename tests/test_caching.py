"""The rendered answers kept by a process: always current, the same bytes and headers as the route's,
never shown to a caller they were not rendered for, and within their size limit.

The rule across processes is held by tests/test_multiprocess.py; these hold it within one.
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from tests.conftest import AppClient
from tests.factories import apply, create_session, decide, paper_payload, published_session


def _positions(client: TestClient, **params: Any) -> dict[int, int | None]:
    answer = client.get("/applications", params=params)
    assert answer.status_code == 200, answer.text
    return {item["id"]: item["waitlist_position"] for item in answer.json()["items"]}


def test_a_hit_answers_the_bytes_and_headers_of_the_route(anonymous: TestClient, secretariat: TestClient):
    published_session(secretariat)
    routed = anonymous.get("/sessions", headers={"Origin": "https://partenaire.example"})
    cached = anonymous.get("/sessions", headers={"Origin": "https://partenaire.example"})
    assert routed.status_code == cached.status_code == 200
    assert cached.content == routed.content
    for header in (
        "etag",
        "cache-control",
        "vary",
        "content-type",
        "content-length",
        "access-control-allow-origin",
        "content-security-policy",
        "x-content-type-options",
    ):
        assert cached.headers.get(header) == routed.headers.get(header), header
    assert cached.headers["x-request-id"] != routed.headers["x-request-id"]
    revalidated = anonymous.get("/sessions", headers={"If-None-Match": cached.headers["etag"]})
    assert revalidated.status_code == 304
    assert revalidated.content == b""
    assert revalidated.headers["etag"] == cached.headers["etag"]


def test_a_cached_listing_still_refuses_a_bad_query(anonymous: TestClient, secretariat: TestClient):
    published_session(secretariat)
    assert anonymous.get("/sessions", params={"limit": 5}).status_code == 200
    for bad in ({"limit": 0}, {"limit": 5, "offset": -1}, {"city": "x" * 121}):
        answer = anonymous.get("/sessions", params=bad)
        assert answer.status_code == 422, bad
        assert answer.json()["code"] == "validation_error"


def test_drafts_rendered_for_the_secretariat_never_reach_the_public(
    anonymous: TestClient, secretariat: TestClient
):
    public = published_session(secretariat)
    draft = create_session(secretariat, title="Un brouillon du secrétariat")
    private_ids = [item["id"] for item in secretariat.get("/sessions").json()["items"]]
    assert draft["id"] in private_ids
    assert secretariat.get(f"/sessions/{draft['id']}").status_code == 200
    for _ in range(2):  # the first answer is rendered, the second served from the cache
        assert [item["id"] for item in anonymous.get("/sessions").json()["items"]] == [public["id"]]
        assert anonymous.get(f"/sessions/{draft['id']}").status_code == 404


def test_a_discount_change_shows_in_the_next_read(anonymous: TestClient, secretariat: TestClient):
    created = secretariat.post(
        "/discounts",
        json={"code": "ABONNE-CACHE", "label": "Abonnés", "percent": "10", "eligibility": "subscriber"},
    )
    assert created.status_code == 201, created.text
    before = anonymous.get("/discounts")
    assert [item["code"] for item in before.json()["items"]] == ["ABONNE-CACHE"]
    assert secretariat.delete(f"/discounts/{created.json()['id']}").status_code == 204
    after = anonymous.get("/discounts", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.json()["items"] == []


def test_a_new_application_shows_at_once_in_the_lists_already_rendered(
    make_user: Any, secretariat: TestClient, clock: Any
):
    # A new application bumps its lists in the database (a trigger), not in the service.
    session = published_session(secretariat)
    online, on_paper = make_user("applicant"), make_user("applicant")
    assert _positions(secretariat, session_id=session["id"]) == {}
    assert _positions(online) == {}
    assert _positions(on_paper) == {}

    first = apply(online, session["id"])["id"]
    assert _positions(secretariat, session_id=session["id"]) == {first: None}
    assert _positions(online) == {first: None}

    recorded = secretariat.post(
        f"/sessions/{session['id']}/applications",
        json=paper_payload(on_paper.user["id"], clock.now().date().isoformat()),
    )
    assert recorded.status_code == 201, recorded.text
    second = recorded.json()["id"]
    assert _positions(secretariat, session_id=session["id"]) == {first: None, second: None}
    assert _positions(on_paper) == {second: None}
    assert _positions(online) == {first: None}


def test_moving_up_the_waiting_list_shows_in_every_list_it_changes(make_user: Any, secretariat: TestClient):
    session = published_session(secretariat, capacity=1)
    first, second, third = (make_user("applicant") for _ in range(3))
    ids = [apply(client, session["id"])["id"] for client in (first, second, third)]
    for application_id in ids:
        decide(secretariat, application_id, "waitlisted")
    assert _positions(third) == {ids[2]: 3}
    assert _positions(second) == {ids[1]: 2}
    assert _positions(secretariat, session_id=session["id"]) == {ids[0]: 1, ids[1]: 2, ids[2]: 3}

    withdrawn = first.post(f"/applications/{ids[0]}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text

    # Their applications moved by a bulk update, not one by one: their lists must still show it.
    assert _positions(third) == {ids[2]: 2}
    assert _positions(second) == {ids[1]: 1}
    assert _positions(secretariat, session_id=session["id"]) == {ids[0]: None, ids[1]: 1, ids[2]: 2}


def test_a_renamed_applicant_shows_in_the_secretariats_list(make_user: Any, secretariat: TestClient):
    session = published_session(secretariat)
    candidate = make_user("applicant", full_name="Camille Avant")
    apply(candidate, session["id"])
    listed = secretariat.get("/applications", params={"session_id": session["id"]}).json()["items"]
    assert [item["applicant"]["full_name"] for item in listed] == ["Camille Avant"]

    renamed = secretariat.patch(f"/users/{candidate.user['id']}", json={"full_name": "Camille Après"})
    assert renamed.status_code == 200, renamed.text

    listed = secretariat.get("/applications", params={"session_id": session["id"]}).json()["items"]
    assert [item["applicant"]["full_name"] for item in listed] == ["Camille Après"]
    own = candidate.get("/applications").json()["items"]
    assert [item["applicant"]["full_name"] for item in own] == ["Camille Après"]


def test_one_applicants_list_is_never_anothers(make_user: Any, secretariat: TestClient):
    session = published_session(secretariat)
    camille, dominique = make_user("applicant"), make_user("applicant")
    mine = apply(camille, session["id"])["id"]
    theirs = apply(dominique, session["id"])["id"]
    for _ in range(2):
        assert list(_positions(camille)) == [mine]
        assert list(_positions(dominique)) == [theirs]


def test_the_rendered_cache_keeps_within_its_size(settings: Settings, clock: Any, secretariat: TestClient):
    published_session(secretariat)
    limit = 16_000
    app: FastAPI = create_app(settings.model_copy(update={"rendered_cache_bytes": limit}), clock=clock)
    try:
        with TestClient(app, base_url="http://testserver/api/v1") as client:
            # Every distinct query string is a rendered answer of its own: an attacker's way to fill it.
            for n in range(60):
                answer = client.get("/sessions", params={"q": f"atelier {n}"})
                assert answer.status_code == 200
            held = app.state.rendered_cache.size_bytes
            assert 0 < held <= limit
            full = client.get("/sessions")
            assert full.status_code == 200 and full.json()["total"] == 1
            assert app.state.rendered_cache.size_bytes <= limit
    finally:
        app.state.engine.dispose()


def test_concurrent_readers_on_the_servers_loop_see_each_commit_at_once(
    app: FastAPI, secretariat: TestClient, applicant: TestClient
) -> None:
    """In a client's context the lifespan ran, so its loop is the server's: on PostgreSQL its rows
    (credentials, list versions) are read on a few asynchronous connections, here by 24 requests
    at once, more than there are connections."""
    session = published_session(secretariat)
    with AppClient(app) as server:
        as_secretariat = {"Authorization": secretariat.headers["Authorization"]}
        as_applicant = {"Authorization": applicant.headers["Authorization"]}

        def read_both(_: int) -> tuple[int, int]:
            listed = server.get("/applications", params={"session_id": session["id"]}, headers=as_secretariat)
            own = server.get("/applications", headers=as_applicant)
            assert listed.status_code == own.status_code == 200, (listed.text, own.text)
            return listed.json()["total"], own.json()["total"]

        with ThreadPoolExecutor(max_workers=24) as readers:
            assert set(readers.map(read_both, range(48))) == {(0, 0)}
        apply(applicant, session["id"])
        with ThreadPoolExecutor(max_workers=24) as readers:
            assert set(readers.map(read_both, range(48))) == {(1, 1)}
        # The credential is read again on every request: a deactivation holds at the next one.
        assert secretariat.patch(f"/users/{applicant.user['id']}", json={"active": False}).status_code == 200
        assert server.get("/applications", headers=as_applicant).status_code == 401
