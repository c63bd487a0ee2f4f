"""Deliverables: group productions of accepted trainees, seen by the session's staff and their
members only; evaluations by the session's trainers, read by members once published."""

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import UserFactory
from tests.factories import Cohort, build_cohort
from tests.problems import assert_problem, assert_unauthorized

DELIVERABLE = {
    "title": "Cartographie sonore du quartier",
    "description": "Une balade sonore géolocalisée.",
    "url": "https://example.org/cartographie",
}
EVALUATION = {
    "score": "15.5",
    "criteria": [{"name": "Démarche", "score": "8", "max_score": 10}],
    "comment": "Une production aboutie.",
    "published": False,
}


@pytest.fixture
def cohort(make_user: UserFactory, secretariat: TestClient) -> Cohort:
    return build_cohort(make_user, secretariat)


def _create(client: TestClient, cohort: Cohort, **overrides: Any) -> Any:
    body = {**DELIVERABLE, "member_ids": [cohort.member_app], **overrides}
    return client.post(f"/sessions/{cohort.session['id']}/deliverables", json=body)


@pytest.fixture
def deliverable(cohort: Cohort) -> dict[str, Any]:
    answer = _create(cohort.trainer, cohort)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _evaluate(client: TestClient, deliverable_id: int, **overrides: Any) -> Any:
    return client.post(f"/deliverables/{deliverable_id}/evaluations", json={**EVALUATION, **overrides})


# Creating


def test_a_trainer_of_the_session_records_a_group_production(cohort: Cohort) -> None:
    answer = _create(cohort.trainer, cohort, member_ids=[cohort.member_app, cohort.classmate_app])
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert answer.headers["location"] == f"/api/v1/deliverables/{body['id']}"
    assert body["session_id"] == cohort.session["id"]
    assert body["url"] == DELIVERABLE["url"]
    assert [m["application_id"] for m in body["members"]] == [cohort.member_app, cohort.classmate_app]
    assert body["members"][0]["full_name"] == "Camille Durand"


def test_the_secretariat_records_one_too(cohort: Cohort) -> None:
    assert _create(cohort.secretariat, cohort).status_code == 201


@pytest.mark.parametrize("who", ["other_trainer", "member", "candidate"])
def test_anyone_else_creating_gets_404(cohort: Cohort, who: str) -> None:
    assert_problem(_create(getattr(cohort, who), cohort), 404, "not_found")


def test_anonymous_gets_401_everywhere(
    anonymous: TestClient, cohort: Cohort, deliverable: dict[str, Any]
) -> None:
    session_id, deliverable_id = cohort.session["id"], deliverable["id"]
    assert_unauthorized(anonymous.post(f"/sessions/{session_id}/deliverables", json=DELIVERABLE))
    assert_unauthorized(anonymous.get(f"/sessions/{session_id}/deliverables"))
    assert_unauthorized(anonymous.get(f"/deliverables/{deliverable_id}"))
    assert_unauthorized(anonymous.post(f"/deliverables/{deliverable_id}/evaluations", json=EVALUATION))
    assert_unauthorized(anonymous.get(f"/deliverables/{deliverable_id}/evaluations"))
    assert_unauthorized(anonymous.patch("/evaluations/1", json={"published": True}))


def test_members_must_be_accepted_applications_of_the_session(cohort: Cohort, make_user: UserFactory) -> None:
    problem = assert_problem(
        _create(cohort.trainer, cohort, member_ids=[cohort.candidate_app]), 422, "validation_error"
    )
    assert problem["errors"][0]["loc"] == ["body", "member_ids", 0]
    assert_problem(_create(cohort.trainer, cohort, member_ids=[999_999]), 422, "validation_error")
    assert_problem(_create(cohort.trainer, cohort, member_ids=[]), 422, "validation_error")


def test_a_member_of_another_session_is_refused(cohort: Cohort, make_user: UserFactory) -> None:
    elsewhere = make_user(full_name="Ailleurs")
    application = elsewhere.post(
        f"/sessions/{cohort.other_session['id']}/applications",
        json={"motivation": "Je veux apprendre.", "funding": "self"},
    )
    assert application.status_code == 201, application.text
    cohort.secretariat.post(
        f"/applications/{application.json()['id']}/decision", json={"decision": "accepted"}
    )
    answer = _create(cohort.trainer, cohort, member_ids=[application.json()["id"]])
    assert_problem(answer, 422, "validation_error")


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://example.org/file", "not a url", "https://e.org/" + "a" * 2000]
)
def test_the_url_is_an_http_address_of_bounded_length(cohort: Cohort, url: str) -> None:
    assert_problem(_create(cohort.trainer, cohort, url=url), 422, "validation_error")


def test_a_url_longer_than_its_column_once_encoded_is_a_validation_error(cohort: Cohort) -> None:
    # 350 characters as sent, 2,018 once "é" is percent-encoded: the column keeps 2,000.
    url = "https://e.org/" + "é" * 334

    answer = _create(cohort.trainer, cohort, url=url)

    problem = assert_problem(answer, 422, "validation_error")
    assert any(error["loc"][:2] == ["body", "url"] for error in problem["errors"]), problem["errors"]
    for client in (cohort.trainer, cohort.secretariat):
        assert client.get(f"/sessions/{cohort.session['id']}/deliverables").json()["items"] == []


def test_a_url_that_fits_its_column_once_encoded_is_kept_encoded(cohort: Cohort) -> None:
    url = "https://e.org/" + "é" * 331  # 2,000 characters once encoded

    answer = _create(cohort.trainer, cohort, url=url)

    assert answer.status_code == 201, answer.text
    stored = cohort.secretariat.get(f"/deliverables/{answer.json()['id']}").json()["url"]
    assert stored == "https://e.org/" + "%C3%A9" * 331


@pytest.mark.parametrize("who", ["other_trainer", "member", "candidate"])
def test_a_long_url_from_someone_who_may_not_create_is_still_not_found(cohort: Cohort, who: str) -> None:
    assert_problem(_create(getattr(cohort, who), cohort, url="https://e.org/" + "é" * 334), 404, "not_found")
    assert cohort.secretariat.get(f"/sessions/{cohort.session['id']}/deliverables").json()["items"] == []


# Reading


def test_the_staff_see_every_deliverable_of_the_session(cohort: Cohort, deliverable: dict[str, Any]) -> None:
    other = _create(cohort.trainer, cohort, member_ids=[cohort.classmate_app], title="Autre").json()
    for client in (cohort.trainer, cohort.secretariat):
        answer = client.get(f"/sessions/{cohort.session['id']}/deliverables")
        assert answer.status_code == 200, answer.text
        assert [d["id"] for d in answer.json()["items"]] == [deliverable["id"], other["id"]]
        assert client.get(f"/deliverables/{deliverable['id']}").json() == deliverable


def test_a_trainee_sees_only_the_deliverables_it_belongs_to(
    cohort: Cohort, deliverable: dict[str, Any]
) -> None:
    other = _create(cohort.trainer, cohort, member_ids=[cohort.classmate_app], title="Autre").json()
    mine = cohort.member.get(f"/sessions/{cohort.session['id']}/deliverables")
    assert [d["id"] for d in mine.json()["items"]] == [deliverable["id"]]
    assert cohort.member.get(f"/deliverables/{deliverable['id']}").status_code == 200
    assert_problem(cohort.member.get(f"/deliverables/{other['id']}"), 404, "not_found")
    theirs = cohort.classmate.get(f"/sessions/{cohort.session['id']}/deliverables")
    assert [d["id"] for d in theirs.json()["items"]] == [other["id"]]


@pytest.mark.parametrize("who", ["other_trainer", "candidate"])
def test_outsiders_get_404_on_the_list_and_the_deliverable(
    cohort: Cohort, deliverable: dict[str, Any], who: str
) -> None:
    client = getattr(cohort, who)
    assert_problem(client.get(f"/sessions/{cohort.session['id']}/deliverables"), 404, "not_found")
    assert_problem(client.get(f"/deliverables/{deliverable['id']}"), 404, "not_found")
    assert_problem(client.get(f"/deliverables/{deliverable['id']}/evaluations"), 404, "not_found")
    assert_problem(_evaluate(client, deliverable["id"]), 404, "not_found")


def test_an_unknown_session_or_deliverable_is_404(cohort: Cohort) -> None:
    assert_problem(cohort.secretariat.get("/sessions/999999/deliverables"), 404, "not_found")
    assert_problem(cohort.secretariat.get("/deliverables/999999"), 404, "not_found")


# Evaluating


def test_a_trainer_of_the_session_evaluates(cohort: Cohort, deliverable: dict[str, Any]) -> None:
    answer = _evaluate(cohort.trainer, deliverable["id"])
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert answer.headers["location"] == f"/api/v1/evaluations/{body['id']}"
    assert body["score"] == "15.5" and body["max_score"] == 20
    assert body["criteria"] == [{"name": "Démarche", "score": "8", "max_score": 10}]
    assert body["trainer"]["id"] == cohort.trainer.user["id"]
    assert body["published"] is False


@pytest.mark.parametrize("who", ["secretariat", "member"])
def test_the_secretariat_and_members_may_not_evaluate(
    cohort: Cohort, deliverable: dict[str, Any], who: str
) -> None:
    assert_problem(_evaluate(getattr(cohort, who), deliverable["id"]), 403, "forbidden")


@pytest.mark.parametrize(
    "overrides",
    [
        {"score": "20.5"},
        {"score": "8", "max_score": 5},
        {"score": "-1"},
        {"criteria": [{"name": "Démarche", "score": "11", "max_score": 10}]},
        {"max_score": 0},
    ],
)
def test_scores_stay_within_their_maxima(
    cohort: Cohort, deliverable: dict[str, Any], overrides: dict
) -> None:
    assert_problem(_evaluate(cohort.trainer, deliverable["id"], **overrides), 422, "validation_error")


def test_a_second_evaluation_by_the_same_trainer_is_already_evaluated(
    cohort: Cohort, deliverable: dict[str, Any], make_user: UserFactory
) -> None:
    assert _evaluate(cohort.trainer, deliverable["id"]).status_code == 201
    assert_problem(_evaluate(cohort.trainer, deliverable["id"]), 409, "already_evaluated")
    colleague = make_user("trainer")
    cohort.secretariat.put(
        f"/sessions/{cohort.session['id']}/trainers",
        json={"trainer_ids": [cohort.trainer.user["id"], colleague.user["id"]]},
    )
    assert _evaluate(colleague, deliverable["id"]).status_code == 201


def test_racing_evaluations_give_one_201_and_one_409(cohort: Cohort, deliverable: dict[str, Any]) -> None:
    answers: list[Any] = []

    def evaluate() -> None:
        answers.append(_evaluate(cohort.trainer, deliverable["id"]))

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    assert [a.json()["code"] for a in answers if a.status_code == 409] == ["already_evaluated"]


def test_members_read_only_the_published_evaluations(
    cohort: Cohort, deliverable: dict[str, Any], make_user: UserFactory
) -> None:
    colleague = make_user("trainer")
    cohort.secretariat.put(
        f"/sessions/{cohort.session['id']}/trainers",
        json={"trainer_ids": [cohort.trainer.user["id"], colleague.user["id"]]},
    )
    draft = _evaluate(cohort.trainer, deliverable["id"]).json()
    published = _evaluate(colleague, deliverable["id"], published=True).json()
    url = f"/deliverables/{deliverable['id']}/evaluations"
    for client in (cohort.trainer, colleague, cohort.secretariat):
        assert [e["id"] for e in client.get(url).json()["items"]] == [draft["id"], published["id"]]
    assert [e["id"] for e in cohort.member.get(url).json()["items"]] == [published["id"]]
    # A trainee of the session who is not a member sees nothing of it.
    assert_problem(cohort.classmate.get(url), 404, "not_found")


# Changing


def test_its_author_changes_an_evaluation(cohort: Cohort, deliverable: dict[str, Any]) -> None:
    evaluation = _evaluate(cohort.trainer, deliverable["id"]).json()
    answer = cohort.trainer.patch(f"/evaluations/{evaluation['id']}", json={"score": "17", "published": True})
    assert answer.status_code == 200, answer.text
    assert answer.json()["score"] == "17" and answer.json()["published"] is True
    assert answer.json()["criteria"] == evaluation["criteria"]
    listed = cohort.member.get(f"/deliverables/{deliverable['id']}/evaluations").json()["items"]
    assert [e["score"] for e in listed] == ["17"]


def test_a_change_keeps_scores_within_maxima(cohort: Cohort, deliverable: dict[str, Any]) -> None:
    evaluation = _evaluate(cohort.trainer, deliverable["id"]).json()
    url = f"/evaluations/{evaluation['id']}"
    assert_problem(cohort.trainer.patch(url, json={"max_score": 10}), 422, "validation_error")
    assert_problem(cohort.trainer.patch(url, json={"score": None}), 422, "validation_error")


def test_others_who_see_an_evaluation_get_403_and_the_rest_404(
    cohort: Cohort, deliverable: dict[str, Any], make_user: UserFactory
) -> None:
    colleague = make_user("trainer")
    cohort.secretariat.put(
        f"/sessions/{cohort.session['id']}/trainers",
        json={"trainer_ids": [cohort.trainer.user["id"], colleague.user["id"]]},
    )
    evaluation = _evaluate(cohort.trainer, deliverable["id"]).json()
    url = f"/evaluations/{evaluation['id']}"
    change = {"comment": "Changé"}
    assert_problem(colleague.patch(url, json=change), 403, "forbidden")
    assert_problem(cohort.secretariat.patch(url, json=change), 403, "forbidden")
    # Unpublished, the member does not see it at all; published, it sees it but may not change it.
    assert_problem(cohort.member.patch(url, json=change), 404, "not_found")
    cohort.trainer.patch(url, json={"published": True})
    assert_problem(cohort.member.patch(url, json=change), 403, "forbidden")
    for outsider in (cohort.other_trainer, cohort.candidate, cohort.classmate):
        assert_problem(outsider.patch(url, json=change), 404, "not_found")
    assert_problem(cohort.trainer.patch("/evaluations/999999", json=change), 404, "not_found")
