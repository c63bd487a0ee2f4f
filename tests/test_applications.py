"""Applications through HTTP: submission online and on paper, who sees and does what, decisions,
capacity, the waiting list, withdrawals, discounts and the history of each application.

Races are in test_applications_concurrency.py.
"""

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.clock import FixedClock
from api.db.engine import open_session
from api.demo import NEXT_EDITION_SLUG, seed_demo
from models.user import Role
from tests.conftest import PASSWORD, START
from tests.factories import (
    add_discount,
    applicant_accounts,
    application_payload,
    apply,
    create_session,
    paper_payload,
    published_session,
)
from tests.problems import assert_problem, assert_unauthorized

DEADLINE = "2027-02-18"  # the factories' session: applications until this day, included


def assert_invalid(answer: httpx.Response, field: str) -> None:
    """A 422 validation_error whose errors name `field`."""
    body = assert_problem(answer, 422, "validation_error")
    assert any(field in error["loc"] for error in body["errors"]), body["errors"]


def decide(client: TestClient, application_id: int, decision: str, note: str = "") -> httpx.Response:
    return client.post(f"/applications/{application_id}/decision", json={"decision": decision, "note": note})


def decided(client: TestClient, application_id: int, decision: str) -> dict[str, Any]:
    answer = decide(client, application_id, decision)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def read(client: TestClient, application_id: int) -> dict[str, Any]:
    answer = client.get(f"/applications/{application_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def seats(client: TestClient, session_id: int) -> int:
    remaining: int = client.get(f"/sessions/{session_id}").json()["seats_remaining"]
    return remaining


def events(client: TestClient, application_id: int) -> list[dict[str, Any]]:
    answer = client.get(f"/applications/{application_id}/events")
    assert answer.status_code == 200, answer.text
    body: list[dict[str, Any]] = answer.json()
    return body


def paris_moment(day: str, hour: int, minute: int = 0) -> datetime:
    """A winter instant given in Paris time (UTC+1)."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}:00+01:00").astimezone(UTC)


def move_clock(clock: FixedClock, moment: datetime, *clients: TestClient) -> None:
    """Set the clock, and log `clients` in again: their access tokens live 15 minutes."""
    clock.set(moment)
    for client in clients:
        answer = client.post("/auth/token", data={"username": client.user["email"], "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"


class Season:
    """A published session with a trainer assigned, and paper-file applicants to fill it."""

    def __init__(self, app: FastAPI, secretariat: TestClient, clock: FixedClock, **overrides: Any) -> None:
        self.app, self.secretariat, self.clock = app, secretariat, clock
        self.session = published_session(secretariat, **overrides)
        self.id: int = self.session["id"]

    def paper(self, applicant_id: int | None = None, **overrides: Any) -> dict[str, Any]:
        """A paper file for a fresh (or the given) applicant account, postmarked today."""
        if applicant_id is None:
            applicant_id = applicant_accounts(self.app, 1, now=self.clock.now())[0]
        answer = self.secretariat.post(
            f"/sessions/{self.id}/applications",
            json=paper_payload(applicant_id, self.clock.now().date().isoformat(), **overrides),
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def in_state(self, state: str) -> dict[str, Any]:
        application = self.paper()
        if state in {"accepted", "rejected", "waitlisted"}:
            application = decided(self.secretariat, application["id"], state)
        elif state == "withdrawn":
            answer = self.secretariat.post(f"/applications/{application['id']}/withdraw")
            assert answer.status_code == 200, answer.text
            application = answer.json()
        assert application["status"] == state
        return application


@pytest.fixture
def season(app, secretariat, clock) -> Season:
    return Season(app, secretariat, clock)


# Applying online


def test_applicant_applies_online_and_gets_a_submitted_application_with_location(applicant, season):
    answer = applicant.post(f"/sessions/{season.id}/applications", json=application_payload())
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert answer.headers["location"] == f"/api/v1/applications/{body['id']}"
    assert body["status"] == "submitted"
    assert body["channel"] == "online"
    assert body["session_id"] == season.id
    assert body["applicant"] == {
        "id": applicant.user["id"],
        "full_name": "Camille Candidate",
        "email": applicant.user["email"],
    }
    assert body["billing"] == application_payload()["billing"]
    assert body["submitted_at"] == "2027-01-14T09:00:00Z"
    assert (body["postmarked_on"], body["waitlist_position"], body["decided_at"]) == (None, None, None)
    assert (body["discount_code"], body["discount_status"]) == (None, "none")
    assert read(applicant, body["id"]) == body


def test_applying_by_slug_is_the_same_as_by_id(applicant, season):
    body = apply(applicant, season.session["slug"])
    assert body["session_id"] == season.id


def test_french_text_is_kept_as_typed(applicant, season):
    text = "Médiatrice « numérique » à l’Hôtel-Dieu — cœur, œuvre, ½ journée\nSecond paragraphe."
    body = apply(applicant, season.id, motivation=text, job_title="Chargée d’études", organisation="Œuvre")
    again = read(applicant, body["id"])
    assert (again["motivation"], again["job_title"], again["organisation"]) == (
        text,
        "Chargée d’études",
        "Œuvre",
    )


def test_optional_fields_take_their_defaults(applicant, season):
    answer = applicant.post(f"/sessions/{season.id}/applications", json={"motivation": "Curieuse."})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["audience"], body["funding"], body["organisation"]) == ("other", "self", "")
    assert body["billing"] == {"name": "", "organisation": "", "address": "", "email": ""}


@pytest.mark.parametrize("walk", [["close"], ["close", "complete"]], ids=lambda w: w[-1])
def test_applying_to_a_session_that_is_not_published_is_session_not_open(applicant, secretariat, walk):
    session = published_session(secretariat)
    for action in walk:
        assert secretariat.post(f"/sessions/{session['id']}/{action}").status_code == 200
    answer = applicant.post(f"/sessions/{session['id']}/applications", json=application_payload())
    assert_problem(answer, 409, "session_not_open")


def test_a_draft_session_is_not_found_for_applicants(applicant, secretariat):
    draft = create_session(secretariat)
    answer = applicant.post(f"/sessions/{draft['id']}/applications", json=application_payload())
    assert_problem(answer, 404, "not_found")


# Answers that differ from one request to the next, whatever the session.
PER_REQUEST_HEADERS = frozenset({"date", "x-request-id"})


def as_seen(answer: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    """What a prober compares: status, headers (those of every request aside) and body."""
    headers = {name: value for name, value in answer.headers.items() if name not in PER_REQUEST_HEADERS}
    return answer.status_code, headers, answer.content


@pytest.mark.parametrize("walk", [[], ["publish", "cancel"], ["publish", "close", "cancel"]], ids=str)
@pytest.mark.parametrize("by", ["id", "slug"])
def test_applying_to_a_session_the_caller_cannot_see_is_not_found_like_an_unknown_one(
    make_user, applicant, trainer, secretariat, walk, by
):
    session = create_session(secretariat)
    for action in walk:
        assert secretariat.post(f"/sessions/{session['id']}/{action}").status_code == 200
    ref, unknown = (session["id"], 999_999) if by == "id" else (session["slug"], "no-such-session")
    assert_problem(applicant.get(f"/sessions/{ref}"), 404, "not_found")
    for caller in (applicant, trainer):
        hidden = caller.post(f"/sessions/{ref}/applications", json=application_payload())
        assert_problem(hidden, 404, "not_found")
        absent = caller.post(f"/sessions/{unknown}/applications", json=application_payload())
        assert as_seen(hidden) == as_seen(absent)
    assert applicant.get("/applications").json()["total"] == 0
    listed = secretariat.get("/applications", params={"session_id": session["id"]}).json()
    assert listed["total"] == 0


@pytest.mark.parametrize("ref", ["999999", "no-such-session", "2147483648"])
def test_applying_to_an_unknown_session_is_not_found(applicant, ref):
    answer = applicant.post(f"/sessions/{ref}/applications", json=application_payload())
    assert_problem(answer, 404, "not_found")


def test_applying_on_the_deadline_day_until_midnight_in_paris_is_on_time(applicant, season, clock):
    move_clock(clock, paris_moment(DEADLINE, 23, 59), applicant)
    apply(applicant, season.id)


def test_applying_the_day_after_the_deadline_in_paris_is_deadline_passed(applicant, season, clock):
    # 23:00 UTC on the deadline day is already the next day in Paris.
    move_clock(clock, datetime.fromisoformat(f"{DEADLINE}T23:00:00+00:00"), applicant)
    answer = applicant.post(f"/sessions/{season.id}/applications", json=application_payload())
    assert_problem(answer, 409, "deadline_passed")


def test_a_second_live_application_to_the_same_session_is_already_applied(applicant, season):
    apply(applicant, season.id)
    answer = applicant.post(f"/sessions/{season.id}/applications", json=application_payload())
    assert_problem(answer, 409, "already_applied")


def test_the_same_applicant_may_apply_to_another_session(applicant, season, secretariat):
    apply(applicant, season.id)
    other = published_session(secretariat)
    apply(applicant, other["id"])


def test_a_withdrawn_application_does_not_block_a_new_one(applicant, season):
    first = apply(applicant, season.id)
    assert applicant.post(f"/applications/{first['id']}/withdraw").status_code == 200
    second = apply(applicant, season.id)
    assert second["id"] != first["id"]


def test_a_rejected_application_blocks_a_new_one(applicant, season, secretariat):
    first = apply(applicant, season.id)
    decided(secretariat, first["id"], "rejected")
    answer = applicant.post(f"/sessions/{season.id}/applications", json=application_payload())
    assert_problem(answer, 409, "already_applied")


def test_a_trainer_may_not_apply(trainer, season):
    answer = trainer.post(f"/sessions/{season.id}/applications", json=application_payload())
    assert_problem(answer, 403, "forbidden")


def test_the_secretariat_applying_online_is_told_to_record_a_paper_file(secretariat, season):
    answer = secretariat.post(f"/sessions/{season.id}/applications", json=application_payload())
    assert_invalid(answer, "channel")


def test_anonymous_may_not_apply(anonymous, season):
    assert_unauthorized(anonymous.post(f"/sessions/{season.id}/applications", json=application_payload()))


BAD_APPLICATIONS = [
    pytest.param({"motivation": ""}, "motivation", id="empty-motivation"),
    pytest.param({"motivation": " \n\t "}, "motivation", id="blank-motivation"),
    pytest.param({"motivation": None}, "motivation", id="null-motivation"),
    pytest.param({"motivation": "x" * 5001}, "motivation", id="motivation-too-long"),
    pytest.param({"motivation": "avant\x00après"}, "motivation", id="nul-in-motivation"),
    pytest.param({"organisation": "o" * 201}, "organisation", id="organisation-too-long"),
    pytest.param({"job_title": "j" * 201}, "job_title", id="job-title-too-long"),
    pytest.param({"audience": "student"}, "audience", id="unknown-audience"),
    pytest.param({"funding": "crowdfunding"}, "funding", id="unknown-funding"),
    pytest.param({"billing": {"email": "pas-une-adresse"}}, "email", id="bad-billing-email"),
    pytest.param({"billing": {"address": "a" * 501}}, "address", id="billing-address-too-long"),
    pytest.param({"billing": "Musée"}, "billing", id="billing-not-an-object"),
    pytest.param({"discount_code": "C" * 41}, "discount_code", id="discount-code-too-long"),
    pytest.param({"discount_code": ""}, "discount_code", id="empty-discount-code"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_APPLICATIONS)
def test_bad_application_input_is_a_validation_error(applicant, season, overrides, field):
    answer = applicant.post(f"/sessions/{season.id}/applications", json=application_payload(**overrides))
    assert_invalid(answer, field)
    assert applicant.get("/applications").json()["total"] == 0


def test_missing_motivation_is_a_validation_error(applicant, season):
    body = application_payload()
    del body["motivation"]
    assert_invalid(applicant.post(f"/sessions/{season.id}/applications", json=body), "motivation")


@pytest.mark.parametrize("body", [{"channel": "fax", "motivation": "x"}, [1, 2], "texte", None])
def test_an_unknown_channel_or_a_body_that_is_no_object_is_a_validation_error(applicant, season, body):
    answer = applicant.post(f"/sessions/{season.id}/applications", json=body)
    assert_problem(answer, 422, "validation_error")


# Discounts claimed on application


def test_a_discount_code_is_claimed_whatever_its_case(app, applicant, season, clock):
    add_discount(app, "ABONNES10", now=clock.now())
    body = apply(applicant, season.id, discount_code="abonnes10")
    assert (body["discount_code"], body["discount_status"]) == ("ABONNES10", "claimed")


def test_a_discount_of_this_session_is_claimed(app, applicant, season, clock):
    add_discount(app, "SESSION2", now=clock.now(), session_id=season.id)
    assert apply(applicant, season.id, discount_code="SESSION2")["discount_status"] == "claimed"


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"active": False}, id="inactive"),
        pytest.param({"valid_until": date(2027, 1, 13)}, id="expired-yesterday"),
        pytest.param({"valid_from": date(2027, 1, 15)}, id="valid-from-tomorrow"),
        pytest.param({"other_session": True}, id="of-another-session"),
    ],
)
def test_a_discount_that_does_not_apply_is_unknown_discount(
    app, applicant, season, secretariat, clock, fields
):
    if fields.pop("other_session", False):
        fields["session_id"] = published_session(secretariat)["id"]
    add_discount(app, "ANCIENS10", now=clock.now(), **fields)
    answer = applicant.post(
        f"/sessions/{season.id}/applications", json=application_payload(discount_code="ANCIENS10")
    )
    body = assert_problem(answer, 422, "unknown_discount")
    assert body["errors"][0]["loc"] == ["body", "discount_code"]


def test_a_discount_valid_from_today_until_today_applies(app, applicant, season, clock):
    today = date(2027, 1, 14)
    add_discount(app, "JOUR", now=clock.now(), valid_from=today, valid_until=today)
    assert apply(applicant, season.id, discount_code="JOUR")["discount_status"] == "claimed"


def test_an_unknown_discount_code_is_unknown_discount(applicant, season):
    answer = applicant.post(
        f"/sessions/{season.id}/applications", json=application_payload(discount_code="X")
    )
    assert_problem(answer, 422, "unknown_discount")


# Paper files


def test_a_paper_file_postmarked_on_the_deadline_is_on_time_whatever_today_is(
    app, secretariat, season, clock
):
    [applicant_id] = applicant_accounts(app, 1, now=clock.now())
    move_clock(clock, paris_moment("2027-02-23", 10), secretariat)
    answer = secretariat.post(
        f"/sessions/{season.id}/applications", json=paper_payload(applicant_id, DEADLINE)
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["channel"], body["postmarked_on"], body["status"]) == ("paper", DEADLINE, "submitted")
    assert body["applicant"]["id"] == applicant_id
    assert answer.headers["location"] == f"/api/v1/applications/{body['id']}"


def test_a_paper_file_postmarked_after_the_deadline_is_deadline_passed(app, secretariat, season, clock):
    [applicant_id] = applicant_accounts(app, 1, now=clock.now())
    move_clock(clock, paris_moment("2027-02-23", 10), secretariat)
    answer = secretariat.post(
        f"/sessions/{season.id}/applications", json=paper_payload(applicant_id, "2027-02-19")
    )
    assert_problem(answer, 409, "deadline_passed")


def test_a_postmark_later_than_today_in_paris_is_a_validation_error(app, secretariat, season, clock):
    [applicant_id] = applicant_accounts(app, 1, now=clock.now())
    # 23:30 UTC on the 14th is already the 15th in Paris: the 15th is today, the 16th is not.
    move_clock(clock, datetime(2027, 1, 14, 23, 30, tzinfo=UTC), secretariat)
    url = f"/sessions/{season.id}/applications"
    assert_invalid(secretariat.post(url, json=paper_payload(applicant_id, "2027-01-16")), "postmarked_on")
    assert secretariat.post(url, json=paper_payload(applicant_id, "2027-01-15")).status_code == 201


def test_a_paper_file_is_accepted_after_applications_closed(app, secretariat, season, clock):
    [applicant_id] = applicant_accounts(app, 1, now=clock.now())
    assert secretariat.post(f"/sessions/{season.id}/close").status_code == 200
    answer = secretariat.post(
        f"/sessions/{season.id}/applications", json=paper_payload(applicant_id, "2027-01-14")
    )
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("walk", [[], ["publish", "cancel"], ["publish", "close", "complete"]])
def test_a_paper_file_for_a_draft_cancelled_or_completed_session_is_session_not_open(
    app, secretariat, clock, walk
):
    [applicant_id] = applicant_accounts(app, 1, now=clock.now())
    session = create_session(secretariat)
    for action in walk:
        assert secretariat.post(f"/sessions/{session['id']}/{action}").status_code == 200
    answer = secretariat.post(
        f"/sessions/{session['id']}/applications", json=paper_payload(applicant_id, "2027-01-14")
    )
    assert_problem(answer, 409, "session_not_open")


@pytest.mark.parametrize("who", ["unknown", "trainer", "secretariat"])
def test_a_paper_file_must_name_an_applicant_account(secretariat, trainer, season, who):
    applicant_id = {"unknown": 999_999, "trainer": trainer.user["id"], "secretariat": secretariat.user["id"]}[
        who
    ]
    answer = secretariat.post(
        f"/sessions/{season.id}/applications", json=paper_payload(applicant_id, "2027-01-14")
    )
    assert_invalid(answer, "applicant_id")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"postmarked_on": None}, "postmarked_on"),
        ({"postmarked_on": "14/01/2027"}, "postmarked_on"),
        ({"applicant_id": 0}, "applicant_id"),
        ({"applicant_id": 2**31}, "applicant_id"),
    ],
)
def test_bad_paper_file_input_is_a_validation_error(secretariat, season, overrides, field):
    body = {**paper_payload(1, "2027-01-14"), **overrides}
    assert_invalid(secretariat.post(f"/sessions/{season.id}/applications", json=body), field)


def test_an_applicant_may_not_record_a_paper_file(applicant, season):
    body = paper_payload(applicant.user["id"], "2027-01-14")
    assert_problem(applicant.post(f"/sessions/{season.id}/applications", json=body), 403, "forbidden")


def test_a_paper_file_is_the_applicants_live_application(secretariat, applicant, season):
    season.paper(applicant.user["id"])
    answer = applicant.post(f"/sessions/{season.id}/applications", json=application_payload())
    assert_problem(answer, 409, "already_applied")
    assert applicant.get("/applications").json()["items"][0]["channel"] == "paper"


# Reading and listing


def test_an_applicant_lists_only_its_own_applications(make_user, applicant, season):
    mine = apply(applicant, season.id)
    apply(make_user(Role.applicant), season.id)
    body = applicant.get("/applications").json()
    assert [item["id"] for item in body["items"]] == [mine["id"]]
    assert body["total"] == 1


def test_a_trainer_lists_accepted_applications_of_its_sessions_without_billing(
    secretariat, trainer, make_user, season, clock, app
):
    assert (
        secretariat.put(
            f"/sessions/{season.id}/trainers", json={"trainer_ids": [trainer.user["id"]]}
        ).status_code
        == 200
    )
    accepted = season.in_state("accepted")
    season.in_state("submitted")
    season.in_state("waitlisted")
    elsewhere = Season(app, secretariat, clock)
    elsewhere.in_state("accepted")  # a session the trainer does not teach
    body = trainer.get("/applications").json()
    assert [item["id"] for item in body["items"]] == [accepted["id"]]
    assert body["total"] == 1
    item = body["items"][0]
    assert not {"billing", "funding", "discount_code", "discount_status", "decision_note"} & set(item)
    assert item["applicant"]["id"] == accepted["applicant"]["id"]
    assert read(trainer, accepted["id"]) == item
    assert make_user(Role.trainer).get("/applications").json()["total"] == 0


def test_the_secretariat_lists_all_and_filters_by_session_and_status(secretariat, season, app, clock):
    submitted = season.in_state("submitted")
    accepted = season.in_state("accepted")
    other = Season(app, secretariat, clock)
    elsewhere = other.in_state("accepted")

    def ids(**params: Any) -> list[int]:
        answer = secretariat.get("/applications", params=params)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert ids() == [submitted["id"], accepted["id"], elsewhere["id"]]
    assert ids(session_id=season.id) == [submitted["id"], accepted["id"]]
    assert ids(status="accepted") == [accepted["id"], elsewhere["id"]]
    assert ids(session_id=other.id, status="accepted") == [elsewhere["id"]]
    assert ids(session_id=999_999) == []


def test_the_listing_is_paged_by_twenty_by_default_in_id_order(secretariat, season):
    created = [season.paper()["id"] for _ in range(23)]
    first = secretariat.get("/applications").json()
    assert (first["total"], first["limit"], first["offset"]) == (23, 20, 0)
    assert [item["id"] for item in first["items"]] == created[:20]
    rest = secretariat.get("/applications", params={"limit": 5, "offset": 20}).json()
    assert [item["id"] for item in rest["items"]] == created[20:]


@pytest.mark.parametrize(
    "params",
    [
        {"status": "pending"},
        {"limit": 0},
        {"limit": 101},
        {"offset": -1},
        {"session_id": 0},
        {"session_id": "x"},
    ],
)
def test_bad_listing_parameters_are_validation_errors(applicant, params):
    assert_problem(applicant.get("/applications", params=params), 422, "validation_error")


@pytest.mark.parametrize("application_id", ["999999", "2147483647"])
def test_an_unknown_application_is_not_found_everywhere(secretariat, application_id):
    base = f"/applications/{application_id}"
    assert_problem(secretariat.get(base), 404, "not_found")
    assert_problem(secretariat.patch(base, json={"job_title": "x"}), 404, "not_found")
    assert_problem(decide(secretariat, int(application_id), "accepted"), 404, "not_found")
    assert_problem(secretariat.post(f"{base}/withdraw"), 404, "not_found")
    assert_problem(secretariat.post(f"{base}/discount", json={"approved": True}), 404, "not_found")
    assert_problem(secretariat.get(f"{base}/events"), 404, "not_found")


@pytest.mark.parametrize("application_id", ["0", "-1", "abc", "2147483648"])
def test_a_malformed_application_id_is_a_validation_error(secretariat, application_id):
    assert_problem(secretariat.get(f"/applications/{application_id}"), 422, "validation_error")


# Who may do what. "trainer" teaches the session; 404 where one may not see, 403 where one may see
# but not act.

ENDPOINTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "read": ("GET", "", None),
    "update": ("PATCH", "", {"job_title": "Responsable des publics"}),
    "decide": ("POST", "/decision", {"decision": "rejected"}),
    "withdraw": ("POST", "/withdraw", None),
    "discount": ("POST", "/discount", {"approved": True}),
    "events": ("GET", "/events", None),
}
CALLERS = ["owner", "other_applicant", "trainer", "secretariat", "anonymous"]
# On a submitted application, which the trainer may not see.
ON_SUBMITTED = {
    "read": [200, 404, 404, 200, 401],
    "update": [200, 404, 404, 403, 401],
    "decide": [403, 404, 404, 200, 401],
    "withdraw": [200, 404, 404, 200, 401],
    "discount": [403, 404, 404, 200, 401],
    "events": [200, 404, 404, 200, 401],
}
# On an accepted application, which the trainer of the session reads (events excepted).
ON_ACCEPTED = {
    "read": [200, 404, 200, 200, 401],
    "update": [409, 404, 403, 403, 401],
    "decide": [403, 404, 403, 409, 401],
    "withdraw": [200, 404, 403, 200, 401],
    "discount": [403, 404, 403, 200, 401],
    "events": [200, 404, 404, 200, 401],
}


@pytest.fixture
def callers(
    app, applicant, make_user, trainer, secretariat, anonymous, season, clock
) -> dict[str, TestClient]:
    add_discount(app, "ABONNES10", now=clock.now())
    assigned = secretariat.put(f"/sessions/{season.id}/trainers", json={"trainer_ids": [trainer.user["id"]]})
    assert assigned.status_code == 200
    return {
        "owner": applicant,
        "other_applicant": make_user(Role.applicant),
        "trainer": trainer,
        "secretariat": secretariat,
        "anonymous": anonymous,
    }


def _call(client: TestClient, endpoint: str, application_id: int) -> httpx.Response:
    method, suffix, body = ENDPOINTS[endpoint]
    return client.request(method, f"/applications/{application_id}{suffix}", json=body)


@pytest.mark.parametrize("state", ["submitted", "accepted"])
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_each_role_gets_the_contract_answer_on_each_endpoint(callers, endpoint, state):
    expected = (ON_SUBMITTED if state == "submitted" else ON_ACCEPTED)[endpoint]
    for caller, status in zip(CALLERS, expected, strict=True):
        # A fresh session each time, so that one caller's success leaves the next its own case.
        session_id = published_session(callers["secretariat"])["id"]
        trainers = {"trainer_ids": [callers["trainer"].user["id"]]}
        assert (
            callers["secretariat"].put(f"/sessions/{session_id}/trainers", json=trainers).status_code == 200
        )
        application = apply(callers["owner"], session_id, discount_code="ABONNES10")
        if state == "accepted":
            decided(callers["secretariat"], application["id"], "accepted")
        answer = _call(callers[caller], endpoint, application["id"])
        assert answer.status_code == status, (caller, answer.text)
        if status >= 400:
            assert answer.headers["content-type"].startswith("application/problem+json")
        if status == 401:
            assert_unauthorized(answer)


def test_a_trainer_not_assigned_to_the_session_sees_none_of_its_applications(make_user, secretariat, season):
    accepted = season.in_state("accepted")
    outsider = make_user(Role.trainer)
    for endpoint in ENDPOINTS:
        assert_problem(_call(outsider, endpoint, accepted["id"]), 404, "not_found")


def test_a_trainer_no_longer_sees_an_application_once_withdrawn(secretariat, trainer, season):
    assert (
        secretariat.put(
            f"/sessions/{season.id}/trainers", json={"trainer_ids": [trainer.user["id"]]}
        ).status_code
        == 200
    )
    accepted = season.in_state("accepted")
    assert read(trainer, accepted["id"])["status"] == "accepted"
    assert secretariat.post(f"/applications/{accepted['id']}/withdraw").status_code == 200
    assert_problem(trainer.get(f"/applications/{accepted['id']}"), 404, "not_found")


@pytest.mark.parametrize("role", ["applicant", "trainer", "secretariat"])
def test_every_role_may_list_applications(request, role):
    assert request.getfixturevalue(role).get("/applications").status_code == 200


def test_anonymous_may_not_list_applications(anonymous):
    assert_unauthorized(anonymous.get("/applications"))


# Changing one's application


def test_the_owner_changes_some_fields_while_submitted_and_keeps_the_others(applicant, season, clock):
    created = apply(applicant, season.id)
    move_clock(clock, START + timedelta(hours=2), applicant)
    answer = applicant.patch(
        f"/applications/{created['id']}",
        json={"job_title": "Responsable des publics", "billing": {"name": "Camille Durand"}},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["job_title"] == "Responsable des publics"
    assert body["billing"] == {**created["billing"], "name": "Camille Durand"}
    assert body["motivation"] == created["motivation"]
    assert body["updated_at"] == "2027-01-14T11:00:00Z"
    assert read(applicant, created["id"]) == body


@pytest.mark.parametrize("state", ["accepted", "rejected", "waitlisted", "withdrawn"])
def test_changing_an_application_once_it_left_submitted_is_invalid_transition(
    applicant, secretariat, season, state
):
    created = apply(applicant, season.id)
    if state == "withdrawn":
        assert applicant.post(f"/applications/{created['id']}/withdraw").status_code == 200
    else:
        decided(secretariat, created["id"], state)
    answer = applicant.patch(f"/applications/{created['id']}", json={"job_title": "Autre"})
    assert_problem(answer, 409, "invalid_transition")
    assert read(applicant, created["id"])["job_title"] == created["job_title"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"motivation": None}, "motivation"),
        ({"motivation": "   "}, "motivation"),
        ({"audience": "student"}, "audience"),
        ({"organisation": "o" * 201}, "organisation"),
        ({"billing": {"email": "nope"}}, "email"),
        ({"billing": {"name": None}}, "name"),
    ],
)
def test_bad_changes_are_validation_errors(applicant, season, change, field):
    created = apply(applicant, season.id)
    assert_invalid(applicant.patch(f"/applications/{created['id']}", json=change), field)
    assert read(applicant, created["id"]) == created


def test_a_discount_claimed_or_dropped_by_a_change_is_recorded(app, applicant, season, clock):
    add_discount(app, "ANCIENS10", now=clock.now())
    created = apply(applicant, season.id)
    claimed = applicant.patch(f"/applications/{created['id']}", json={"discount_code": "anciens10"}).json()
    assert (claimed["discount_code"], claimed["discount_status"]) == ("ANCIENS10", "claimed")
    dropped = applicant.patch(f"/applications/{created['id']}", json={"discount_code": None}).json()
    assert (dropped["discount_code"], dropped["discount_status"]) == (None, "none")
    kinds = [(e["kind"], e["from_status"], e["to_status"]) for e in events(applicant, created["id"])]
    assert kinds == [
        ("status", None, "submitted"),
        ("discount", "none", "claimed"),
        ("discount", "claimed", "none"),
    ]
    bad = applicant.patch(f"/applications/{created['id']}", json={"discount_code": "INCONNU"})
    assert_problem(bad, 422, "unknown_discount")


# Decisions

# (from, decision) -> allowed; everything else is invalid_transition.
ALLOWED_DECISIONS = {
    ("submitted", "accepted"),
    ("submitted", "rejected"),
    ("submitted", "waitlisted"),
    ("waitlisted", "accepted"),
    ("waitlisted", "rejected"),
}


@pytest.mark.parametrize("decision", ["accepted", "rejected", "waitlisted"])
@pytest.mark.parametrize("state", ["submitted", "accepted", "rejected", "waitlisted", "withdrawn"])
def test_only_the_contract_decisions_are_allowed(secretariat, season, state, decision):
    application = season.in_state(state)
    answer = decide(secretariat, application["id"], decision, note="Vu en commission.")
    if (state, decision) in ALLOWED_DECISIONS:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["status"], body["decision_note"]) == (decision, "Vu en commission.")
        assert body["decided_at"] == "2027-01-14T09:00:00Z"
    else:
        assert_problem(answer, 409, "invalid_transition")
        assert read(secretariat, application["id"])["status"] == state


@pytest.mark.parametrize(
    "body",
    [
        {"decision": "accept"},
        {"decision": "withdrawn"},
        {"decision": "submitted"},
        {},
        {"decision": "accepted", "note": "n" * 5001},
        {"decision": "accepted", "note": "\x00"},
    ],
)
def test_bad_decisions_are_validation_errors(secretariat, season, body):
    application = season.in_state("submitted")
    answer = secretariat.post(f"/applications/{application['id']}/decision", json=body)
    assert_problem(answer, 422, "validation_error")
    assert read(secretariat, application["id"])["status"] == "submitted"


def test_accepting_takes_a_seat_and_changes_the_catalogue(secretariat, anonymous, season):
    application = season.in_state("submitted")
    before = anonymous.get(f"/sessions/{season.id}")
    listing_before = anonymous.get("/sessions")
    decided(secretariat, application["id"], "accepted")
    after = anonymous.get(f"/sessions/{season.id}")
    assert (before.json()["seats_remaining"], after.json()["seats_remaining"]) == (25, 24)
    assert before.headers["etag"] != after.headers["etag"]
    assert listing_before.headers["etag"] != anonymous.get("/sessions").headers["etag"]


def test_accepting_past_capacity_is_session_full(app, secretariat, anonymous, clock):
    season = Season(app, secretariat, clock, capacity=2)
    first, second, third = (season.in_state("submitted") for _ in range(3))
    decided(secretariat, first["id"], "accepted")
    decided(secretariat, second["id"], "accepted")
    assert_problem(decide(secretariat, third["id"], "accepted"), 409, "session_full")
    assert read(secretariat, third["id"])["status"] == "submitted"
    session = anonymous.get(f"/sessions/{season.id}").json()
    assert (session["seats_remaining"], session["open_for_applications"]) == (0, True)
    # A full session still waitlists: that is what the waiting list is for.
    assert decided(secretariat, third["id"], "waitlisted")["waitlist_position"] == 1


def test_raising_the_capacity_makes_room_again(app, secretariat, clock):
    season = Season(app, secretariat, clock, capacity=1)
    first, second = season.in_state("accepted"), season.in_state("submitted")
    assert_problem(decide(secretariat, second["id"], "accepted"), 409, "session_full")
    assert secretariat.patch(f"/sessions/{season.id}", json={"capacity": 2}).status_code == 200
    decided(secretariat, second["id"], "accepted")
    assert first["status"] == "accepted"


def test_capacity_may_not_drop_below_the_accepted_count(secretariat, season):
    for _ in range(3):
        season.in_state("accepted")
    answer = secretariat.patch(f"/sessions/{season.id}", json={"capacity": 2})
    assert_problem(answer, 409, "capacity_below_accepted")
    assert secretariat.patch(f"/sessions/{season.id}", json={"capacity": 3}).status_code == 200
    assert seats(secretariat, season.id) == 0


def test_rejecting_or_waitlisting_takes_no_seat(secretariat, season):
    season.in_state("rejected")
    season.in_state("waitlisted")
    assert seats(secretariat, season.id) == 25


# The waiting list


def waitlist(client: TestClient, session_id: int) -> dict[int, int]:
    """application id -> waitlist position, for the session's waitlisted applications."""
    items = client.get("/applications", params={"session_id": session_id, "status": "waitlisted"}).json()[
        "items"
    ]
    return {item["id"]: item["waitlist_position"] for item in items}


def test_waitlist_positions_count_from_one_in_order_of_waitlisting(secretariat, season):
    a, b, c = (season.in_state("submitted") for _ in range(3))
    for application in (c, a, b):
        decided(secretariat, application["id"], "waitlisted")
    assert waitlist(secretariat, season.id) == {c["id"]: 1, a["id"]: 2, b["id"]: 3}


def test_each_session_has_its_own_waiting_list(app, secretariat, season, clock):
    season.in_state("waitlisted")
    other = Season(app, secretariat, clock)
    assert other.in_state("waitlisted")["waitlist_position"] == 1


@pytest.mark.parametrize("leaving", ["accepted", "rejected", "withdrawn"])
def test_those_behind_an_entry_that_leaves_the_list_move_up(secretariat, season, leaving):
    first, second, third = (season.in_state("waitlisted") for _ in range(3))
    if leaving == "withdrawn":
        answer = secretariat.post(f"/applications/{second['id']}/withdraw")
        assert answer.status_code == 200
    else:
        answer = decide(secretariat, second["id"], leaving)
        assert answer.status_code == 200
    assert answer.json()["waitlist_position"] is None
    assert waitlist(secretariat, season.id) == {first["id"]: 1, third["id"]: 2}
    # The next one waitlisted goes to the end of the shortened list.
    assert season.in_state("waitlisted")["waitlist_position"] == 3


def test_withdrawing_an_accepted_application_promotes_the_first_of_the_waiting_list(
    app, secretariat, applicant, clock
):
    season = Season(app, secretariat, clock, capacity=1)
    accepted = apply(applicant, season.id)
    decided(secretariat, accepted["id"], "accepted")
    first, second = season.in_state("waitlisted"), season.in_state("waitlisted")
    move_clock(clock, START + timedelta(days=1), applicant, secretariat)
    answer = applicant.post(f"/applications/{accepted['id']}/withdraw")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "withdrawn"
    promoted = read(secretariat, first["id"])
    assert (promoted["status"], promoted["waitlist_position"]) == ("accepted", None)
    assert promoted["decided_at"] == "2027-01-15T09:00:00Z"
    assert waitlist(secretariat, season.id) == {second["id"]: 1}
    assert seats(secretariat, season.id) == 0
    last = events(secretariat, first["id"])[-1]
    assert (last["from_status"], last["to_status"]) == ("waitlisted", "accepted")
    assert last["actor"] == {"id": applicant.user["id"], "full_name": "Camille Candidate"}
    assert "waiting list" in last["note"]
    assert str(accepted["id"]) in last["note"]


def test_withdrawing_an_accepted_application_without_a_waiting_list_frees_its_seat(secretariat, season):
    accepted = season.in_state("accepted")
    assert seats(secretariat, season.id) == 24
    assert secretariat.post(f"/applications/{accepted['id']}/withdraw").status_code == 200
    assert seats(secretariat, season.id) == 25


@pytest.mark.parametrize("state", ["submitted", "waitlisted"])
def test_withdrawing_an_application_without_a_seat_promotes_nobody(app, secretariat, clock, state):
    season = Season(app, secretariat, clock, capacity=1)
    season.in_state("accepted")
    leaving = season.in_state(state)
    waiting = season.in_state("waitlisted")
    assert secretariat.post(f"/applications/{leaving['id']}/withdraw").status_code == 200
    assert read(secretariat, waiting["id"])["status"] == "waitlisted"
    assert seats(secretariat, season.id) == 0


# Withdrawing


@pytest.mark.parametrize("state", ["submitted", "accepted", "waitlisted"])
def test_the_owner_withdraws_a_live_application(applicant, secretariat, season, state):
    created = apply(applicant, season.id)
    if state != "submitted":
        decided(secretariat, created["id"], state)
    answer = applicant.post(f"/applications/{created['id']}/withdraw")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "withdrawn"
    last = events(applicant, created["id"])[-1]
    assert (last["from_status"], last["to_status"], last["actor"]["id"]) == (
        state,
        "withdrawn",
        applicant.user["id"],
    )


@pytest.mark.parametrize("state", ["rejected", "withdrawn"])
def test_withdrawing_a_rejected_or_withdrawn_application_is_invalid_transition(secretariat, season, state):
    application = season.in_state(state)
    assert_problem(secretariat.post(f"/applications/{application['id']}/withdraw"), 409, "invalid_transition")


# The session's own life: no withdrawal nor promotion once it has started, nothing once cancelled

FIRST_DAY = "2027-03-08"  # the factories' session runs from this Monday


def unchanged_view(secretariat: TestClient, session_id: int, *applications: dict[str, Any]) -> Any:
    """What a refusal must leave as it was: each application, its history, and the seats left."""
    return (
        [read(secretariat, application["id"]) for application in applications],
        [events(secretariat, application["id"]) for application in applications],
        seats(secretariat, session_id),
    )


def in_state(secretariat: TestClient, applicant: TestClient, session_id: int, state: str) -> dict[str, Any]:
    """`applicant`'s own online application, taken to `state` by the secretariat."""
    application = apply(applicant, session_id)
    return application if state == "submitted" else decided(secretariat, application["id"], state)


@pytest.mark.parametrize("state", ["submitted", "accepted", "waitlisted"])
@pytest.mark.parametrize("who", ["owner", "secretariat"])
def test_withdrawing_from_a_started_session_is_invalid_transition(
    app, applicant, secretariat, clock, who, state
):
    season = Season(app, secretariat, clock, capacity=1)
    if state != "accepted":
        season.in_state("accepted")
    mine = in_state(secretariat, applicant, season.id, state)
    waiting = season.in_state("waitlisted")
    move_clock(clock, paris_moment(FIRST_DAY, 0, 0), applicant, secretariat)
    before = unchanged_view(secretariat, season.id, mine, waiting)
    caller = applicant if who == "owner" else secretariat
    assert_problem(caller.post(f"/applications/{mine['id']}/withdraw"), 409, "invalid_transition")
    assert unchanged_view(secretariat, season.id, mine, waiting) == before


def test_withdrawing_on_the_eve_of_the_first_day_in_paris_still_promotes_the_first_waitlisted(
    app, applicant, secretariat, clock
):
    season = Season(app, secretariat, clock, capacity=1)
    mine = in_state(secretariat, applicant, season.id, "accepted")
    waiting = season.in_state("waitlisted")
    move_clock(clock, paris_moment("2027-03-07", 23, 59), applicant, secretariat)
    assert applicant.post(f"/applications/{mine['id']}/withdraw").status_code == 200
    assert read(secretariat, waiting["id"])["status"] == "accepted"


@pytest.mark.parametrize("when", ["after_the_week", "completed_before_its_dates"])
def test_withdrawing_from_a_completed_session_is_invalid_transition_and_promotes_nobody(
    app, applicant, secretariat, clock, when
):
    season = Season(app, secretariat, clock, capacity=1)
    trainee = in_state(secretariat, applicant, season.id, "accepted")
    waiting = season.in_state("waitlisted")
    if when == "after_the_week":
        move_clock(clock, paris_moment("2027-03-14", 10), applicant, secretariat)
    for action in ("close", "complete"):
        assert secretariat.post(f"/sessions/{season.id}/{action}").status_code == 200
    assert secretariat.post(f"/applications/{trainee['id']}/certificate").status_code == 201
    before = unchanged_view(secretariat, season.id, trainee, waiting)
    for caller in (applicant, secretariat):
        assert_problem(caller.post(f"/applications/{trainee['id']}/withdraw"), 409, "invalid_transition")
    assert unchanged_view(secretariat, season.id, trainee, waiting) == before
    # The waiting list never attended: no certificate for it.
    assert_problem(secretariat.post(f"/applications/{waiting['id']}/certificate"), 409, "not_eligible")


@pytest.mark.parametrize("when", ["first_day", "completed_before_its_dates"])
def test_accepting_a_waitlisted_application_into_a_started_session_is_invalid_transition(
    app, secretariat, clock, when
):
    season = Season(app, secretariat, clock, capacity=3)
    season.in_state("accepted")
    waiting = season.in_state("waitlisted")
    late_file = season.in_state("submitted")
    if when == "first_day":
        move_clock(clock, paris_moment(FIRST_DAY, 0, 0), secretariat)
    else:
        for action in ("close", "complete"):
            assert secretariat.post(f"/sessions/{season.id}/{action}").status_code == 200
    before = unchanged_view(secretariat, season.id, waiting)
    assert_problem(decide(secretariat, waiting["id"], "accepted"), 409, "invalid_transition")
    assert unchanged_view(secretariat, season.id, waiting) == before
    # The waiting list may still be cleared, and a file never waitlisted still decided.
    assert decided(secretariat, waiting["id"], "rejected")["waitlist_position"] is None
    assert decided(secretariat, late_file["id"], "accepted")["status"] == "accepted"


CANCELLED_DECISIONS = [
    pytest.param(state, decision, id=f"{state}-{decision}")
    for state, decision in [
        ("submitted", "accepted"),
        ("submitted", "rejected"),
        ("submitted", "waitlisted"),
        ("waitlisted", "accepted"),
        ("waitlisted", "rejected"),
    ]
]


@pytest.mark.parametrize(("state", "decision"), CANCELLED_DECISIONS)
def test_a_cancelled_session_takes_no_decision_it_is_session_not_open(
    applicant, secretariat, season, state, decision
):
    application = in_state(secretariat, applicant, season.id, state)
    assert secretariat.post(f"/sessions/{season.id}/cancel").status_code == 200
    before = unchanged_view(secretariat, season.id, application)
    assert_problem(decide(secretariat, application["id"], decision), 409, "session_not_open")
    # Its owner may read it but never decides: 403, as in any session.
    assert_problem(decide(applicant, application["id"], decision), 403, "forbidden")
    assert unchanged_view(secretariat, season.id, application) == before


@pytest.mark.parametrize("state", ["submitted", "accepted", "waitlisted"])
def test_withdrawing_from_a_cancelled_session_is_session_not_open(
    make_user, applicant, secretariat, season, state
):
    application = in_state(secretariat, applicant, season.id, state)
    waiting = season.in_state("waitlisted")
    assert secretariat.post(f"/sessions/{season.id}/cancel").status_code == 200
    before = unchanged_view(secretariat, season.id, application, waiting)
    for caller in (applicant, secretariat):
        assert_problem(caller.post(f"/applications/{application['id']}/withdraw"), 409, "session_not_open")
    stranger = make_user(Role.applicant)
    assert_problem(stranger.post(f"/applications/{application['id']}/withdraw"), 404, "not_found")
    assert unchanged_view(secretariat, season.id, application, waiting) == before


# Discount decisions


def test_the_secretariat_approves_then_refuses_a_claimed_discount(app, secretariat, applicant, season, clock):
    add_discount(app, "ABONNES10", now=clock.now())
    created = apply(applicant, season.id, discount_code="ABONNES10")
    approved = secretariat.post(
        f"/applications/{created['id']}/discount", json={"approved": True, "note": "Attestation reçue."}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["discount_status"] == "approved"
    refused = secretariat.post(f"/applications/{created['id']}/discount", json={"approved": False})
    assert refused.json()["discount_status"] == "refused"
    history = [
        (e["kind"], e["from_status"], e["to_status"], e["note"]) for e in events(applicant, created["id"])
    ]
    assert history == [
        ("status", None, "submitted", ""),
        ("discount", "none", "claimed", ""),
        ("discount", "claimed", "approved", "Attestation reçue."),
        ("discount", "approved", "refused", ""),
    ]
    assert read(applicant, created["id"])["status"] == "submitted"


def test_deciding_a_discount_nobody_claimed_is_invalid_transition(secretariat, season):
    application = season.in_state("submitted")
    answer = secretariat.post(f"/applications/{application['id']}/discount", json={"approved": True})
    assert_problem(answer, 409, "invalid_transition")
    assert events(secretariat, application["id"])[-1]["kind"] == "status"


@pytest.mark.parametrize(
    "body", [{}, {"approved": "yes"}, {"approved": 1}, {"approved": True, "note": "n" * 5001}]
)
def test_bad_discount_decisions_are_validation_errors(secretariat, season, body):
    application = season.in_state("submitted")
    answer = secretariat.post(f"/applications/{application['id']}/discount", json=body)
    assert_problem(answer, 422, "validation_error")


# History


def test_every_change_is_an_event_with_its_actor_in_order(app, secretariat, applicant, season, clock):
    add_discount(app, "ABONNES10", now=clock.now())
    created = apply(applicant, season.id, discount_code="ABONNES10")
    move_clock(clock, START + timedelta(days=1), applicant, secretariat)
    decide(secretariat, created["id"], "waitlisted", note="Liste d’attente.")
    move_clock(clock, START + timedelta(days=2), applicant, secretariat)
    decide(secretariat, created["id"], "accepted", note="Une place s’est libérée.")
    move_clock(clock, START + timedelta(days=3), applicant, secretariat)
    applicant.post(f"/applications/{created['id']}/withdraw")
    history = events(applicant, created["id"])
    assert history == events(secretariat, created["id"])
    me = {"id": applicant.user["id"], "full_name": "Camille Candidate"}
    staff = {"id": secretariat.user["id"], "full_name": "Claire Secrétariat"}
    assert history == [
        {"at": "2027-01-14T09:00:00Z", "actor": me, "kind": "status", "from_status": None,
         "to_status": "submitted", "note": ""},
        {"at": "2027-01-14T09:00:00Z", "actor": me, "kind": "discount", "from_status": "none",
         "to_status": "claimed", "note": ""},
        {"at": "2027-01-15T09:00:00Z", "actor": staff, "kind": "status", "from_status": "submitted",
         "to_status": "waitlisted", "note": "Liste d’attente."},
        {"at": "2027-01-16T09:00:00Z", "actor": staff, "kind": "status", "from_status": "waitlisted",
         "to_status": "accepted", "note": "Une place s’est libérée."},
        {"at": "2027-01-17T09:00:00Z", "actor": me, "kind": "status", "from_status": "accepted",
         "to_status": "withdrawn", "note": ""},
    ]  # fmt: skip


def test_a_refused_action_leaves_no_event(app, secretariat, clock):
    season = Season(app, secretariat, clock, capacity=1)
    season.in_state("accepted")
    application = season.in_state("submitted")
    assert_problem(decide(secretariat, application["id"], "accepted"), 409, "session_full")
    assert [e["to_status"] for e in events(secretariat, application["id"])] == ["submitted"]


def test_a_paper_file_is_recorded_with_the_secretariat_as_actor(secretariat, season):
    application = season.paper()
    [created] = events(secretariat, application["id"])
    assert created["actor"]["id"] == secretariat.user["id"]
    assert (created["from_status"], created["to_status"]) == (None, "submitted")


# The demo season


def test_the_demo_seed_gives_the_next_edition_a_season_in_every_state_and_runs_twice(app, anonymous, clock):
    def seed() -> None:
        with open_session(app.state.engine, write=True) as db:
            seed_demo(db, now=clock.now(), passwords=app.state.passwords)
            db.commit()

    seed()
    staff = anonymous.post(
        "/auth/token", data={"username": "secretariat@ateliers.example", "password": "demo-secretariat-2016"}
    )
    anonymous.headers["Authorization"] = f"Bearer {staff.json()['access_token']}"
    session = anonymous.get(f"/sessions/{NEXT_EDITION_SLUG}").json()
    season = anonymous.get("/applications", params={"session_id": session["id"], "limit": 100}).json()
    assert 10 <= season["total"] <= 15
    states = Counter(item["status"] for item in season["items"])
    assert set(states) == {"submitted", "accepted", "rejected", "waitlisted", "withdrawn"}
    assert session["seats_remaining"] == session["capacity"] - states["accepted"]
    positions = sorted(i["waitlist_position"] for i in season["items"] if i["status"] == "waitlisted")
    assert positions == list(range(1, states["waitlisted"] + 1))
    [paper] = [item for item in season["items"] if item["channel"] == "paper"]
    assert paper["postmarked_on"] is not None
    assert date.fromisoformat(paper["postmarked_on"]) <= date(2027, 1, 14)
    for item in season["items"]:
        history = [event for event in events(anonymous, item["id"]) if event["kind"] == "status"]
        assert history[0]["to_status"] == "submitted"
        assert history[-1]["to_status"] == item["status"]
    # The brochure's discounts are claimed too: one approved, one refused, one awaiting the proof.
    discounts = Counter(item["discount_status"] for item in season["items"])
    assert (discounts["approved"], discounts["refused"], discounts["claimed"]) == (1, 1, 1)
    # The brochure's completed session gets none, and a second run changes nothing.
    assert anonymous.get("/applications", params={"limit": 100}).json() == season
    seed()
    assert anonymous.get("/applications", params={"limit": 100}).json() == season
