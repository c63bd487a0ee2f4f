"""Feedback: given once by an accepted trainee from the session's first day, read by the session's
staff only as a summary that says nothing of who wrote what."""

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.clock import FixedClock
from models.user import Role
from tests.conftest import PASSWORD, UserFactory
from tests.factories import Cohort, apply, build_cohort, decide
from tests.problems import assert_problem, assert_unauthorized

# Monday 8 March 2027, the first day of the cohort's session, 8:00 in Paris.
FIRST_DAY = datetime(2027, 3, 8, 7, 0, tzinfo=UTC)
# Sunday 7 March 2027, 23:30 in Paris (22:30 UTC): still the day before.
EVE = datetime(2027, 3, 7, 22, 30, tzinfo=UTC)
FEEDBACK = {"rating": 5, "comment": "Très concret.", "answers": {"recommande": "oui", "rythme": 4}}


@pytest.fixture
def cohort(make_user: UserFactory, secretariat: TestClient) -> Cohort:
    return build_cohort(make_user, secretariat)


def _move_clock(clock: FixedClock, at: datetime, *clients: TestClient) -> None:
    """Set the service's clock, and log the clients in again: their access tokens have expired."""
    clock.set(at)
    for client in clients:
        answer = client.post("/auth/token", data={"username": client.user["email"], "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"


def _everyone(cohort: Cohort) -> list[TestClient]:
    names = ("secretariat", "trainer", "other_trainer", "member", "classmate", "candidate")
    return [getattr(cohort, name) for name in names]


def _give(client: TestClient, cohort: Cohort, **overrides: Any) -> Any:
    return client.post(f"/sessions/{cohort.session['id']}/feedback", json={**FEEDBACK, **overrides})


@pytest.fixture
def started(cohort: Cohort, clock: FixedClock) -> Cohort:
    _move_clock(clock, FIRST_DAY, *_everyone(cohort))
    return cohort


# Giving


def test_an_accepted_trainee_gives_feedback_from_the_first_day(started: Cohort) -> None:
    answer = _give(started.member, started)
    assert answer.status_code == 201, answer.text
    assert set(answer.json()) == {"id", "session_id", "created_at"}
    assert answer.json()["session_id"] == started.session["id"]


def test_before_the_first_day_in_paris_it_is_not_eligible(cohort: Cohort, clock: FixedClock) -> None:
    assert_problem(_give(cohort.member, cohort), 409, "not_eligible")
    _move_clock(clock, EVE, cohort.member)
    assert_problem(_give(cohort.member, cohort), 409, "not_eligible")


def test_a_second_feedback_is_feedback_already_given(started: Cohort) -> None:
    assert _give(started.member, started).status_code == 201
    assert_problem(_give(started.member, started, rating=1), 409, "feedback_already_given")


def test_racing_feedbacks_give_one_201_and_one_409(started: Cohort) -> None:
    answers: list[Any] = []
    threads = [
        threading.Thread(target=lambda: answers.append(_give(started.member, started))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    assert [a.json()["code"] for a in answers if a.status_code == 409] == ["feedback_already_given"]


def test_who_may_give_feedback(started: Cohort, anonymous: TestClient) -> None:
    assert_unauthorized(anonymous.post(f"/sessions/{started.session['id']}/feedback", json=FEEDBACK))
    # The session's staff see its feedback but do not give any; anyone else does not see it.
    assert_problem(_give(started.trainer, started), 403, "forbidden")
    assert_problem(_give(started.secretariat, started), 403, "forbidden")
    assert_problem(_give(started.other_trainer, started), 404, "not_found")
    assert_problem(_give(started.candidate, started), 404, "not_found")
    assert_problem(started.member.post("/sessions/999999/feedback", json=FEEDBACK), 404, "not_found")


@pytest.mark.parametrize(
    "overrides",
    [
        {"rating": 0},
        {"rating": 6},
        {"comment": "x" * 5001},
        {"answers": {f"q{n}": "oui" for n in range(21)}},
        {"answers": {"k" * 61: "oui"}},
        {"answers": {"q": "x" * 1001}},
        {"answers": {"q": ["une", "liste"]}},
        {"answers": {"q": {"imbriqué": 1}}},
        {"answers": {"q": True}},
        {"answers": {"q": 1.5}},
        {"answers": {"q\u0000": "nul"}},
    ],
)
def test_the_body_is_bounded(started: Cohort, overrides: dict[str, Any]) -> None:
    assert_problem(_give(started.member, started, **overrides), 422, "validation_error")


# The summary


def _summary(client: TestClient, cohort: Cohort) -> Any:
    return client.get(f"/sessions/{cohort.session['id']}/feedback/summary")


def test_who_may_read_the_summary(started: Cohort, anonymous: TestClient) -> None:
    assert_unauthorized(_summary(anonymous, started))
    for staff in (started.secretariat, started.trainer):
        assert _summary(staff, started).status_code == 200
    for outsider in (started.other_trainer, started.member, started.candidate):
        assert_problem(_summary(outsider, started), 404, "not_found")
    assert_problem(started.secretariat.get("/sessions/999999/feedback/summary"), 404, "not_found")


def test_an_empty_summary(started: Cohort) -> None:
    body = _summary(started.trainer, started).json()
    assert body == {
        "count": 0,
        "average": None,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
        "comments": [],
    }


def test_the_summary_counts_and_never_says_who_said_what(
    started: Cohort, make_user: UserFactory, clock: FixedClock
) -> None:
    third = make_user(Role.applicant, full_name="Zoé Troisième")
    _move_clock(clock, datetime(2027, 1, 14, 9, 0, tzinfo=UTC), third, started.secretariat)
    decide(started.secretariat, apply(third, started.session["id"])["id"])
    _move_clock(clock, FIRST_DAY, third, started.secretariat)
    # Submitted in an order that is not alphabetical.
    given = [
        (started.member, 5, "Zéro temps mort, excellent."),
        (started.classmate, 3, "Atelier trop court."),
        (third, 4, "Mieux qu’attendu."),
    ]
    for client, rating, comment in given:
        assert _give(client, started, rating=rating, comment=comment).status_code == 201
    answer = _summary(started.secretariat, started)
    body = answer.json()
    # No other field, no ids: the distribution's keys are the ratings, the comments bare strings.
    assert set(body) == {"count", "average", "distribution", "comments"}
    assert body["count"] == 3
    assert body["average"] == "4.00"
    assert body["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}
    assert body["comments"] == ["Atelier trop court.", "Mieux qu’attendu.", "Zéro temps mort, excellent."]
    assert body["comments"] != [comment for _, _, comment in given]
    text = json.dumps(body, ensure_ascii=False)
    for client in (started.member, started.classmate, third):
        assert client.user["full_name"] not in text
        assert client.user["email"] not in text
