"""Accounts: oneself, and the trainers and staff the secretariat creates, lists and manages."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.clock import FixedClock
from tests.conftest import PASSWORD, START, UserFactory
from tests.problems import assert_problem

PROBLEM = "application/problem+json"
USER_FIELDS = {"id", "email", "full_name", "role", "active", "created_at", "updated_at"}


def staff_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": "elise.martin@example.org",
        "password": PASSWORD,
        "full_name": "Élise Martin",
        "role": "trainer",
    }
    body.update(overrides)
    return body


# Oneself


@pytest.mark.parametrize("role", ["applicant", "trainer", "secretariat"])
def test_me_answers_the_caller_for_each_role(request: pytest.FixtureRequest, role: str) -> None:
    client: TestClient = request.getfixturevalue(role)

    answer = client.get("/users/me")

    assert answer.status_code == 200, answer.text
    me = answer.json()
    assert set(me) == USER_FIELDS
    assert me["role"] == role
    assert me["active"] is True
    assert me["email"].startswith(f"{role}-")
    assert datetime.fromisoformat(me["created_at"]) == START


def test_me_needs_a_credential(anonymous: TestClient) -> None:
    answer = anonymous.get("/users/me")

    assert_problem(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"] == "Bearer"


# Creating trainers and staff


@pytest.mark.parametrize("role", ["trainer", "secretariat"])
def test_secretariat_creates_trainers_and_staff(
    anonymous: TestClient, secretariat: TestClient, role: str
) -> None:
    answer = secretariat.post("/users", json=staff_payload(role=role))

    assert answer.status_code == 201, answer.text
    user = answer.json()
    assert set(user) == USER_FIELDS
    assert (user["email"], user["full_name"], user["role"], user["active"]) == (
        "elise.martin@example.org",
        "Élise Martin",
        role,
        True,
    )
    assert answer.headers["location"] == f"/api/v1/users/{user['id']}"
    assert secretariat.get(f"/users/{user['id']}").json() == user
    login = anonymous.post("/auth/token", data={"username": "elise.martin@example.org", "password": PASSWORD})
    assert login.status_code == 200, login.text


@pytest.mark.parametrize("role", ["applicant", "admin", "", None, "TRAINER"])
def test_created_user_must_be_a_trainer_or_staff(secretariat: TestClient, role: str | None) -> None:
    answer = secretariat.post("/users", json=staff_payload(role=role))

    body = assert_problem(answer, 422, "validation_error")
    assert {tuple(error["loc"]) for error in body["errors"]} == {("body", "role")}


def test_created_user_needs_a_long_enough_password(secretariat: TestClient) -> None:
    answer = secretariat.post("/users", json=staff_payload(password="short"))

    body = assert_problem(answer, 422, "validation_error")
    assert {tuple(error["loc"]) for error in body["errors"]} == {("body", "password")}


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_only_the_secretariat_creates_users(request: pytest.FixtureRequest, role: str) -> None:
    client: TestClient = request.getfixturevalue(role)

    assert_problem(client.post("/users", json=staff_payload()), 403, "forbidden")


def test_anonymous_cannot_create_users(anonymous: TestClient) -> None:
    answer = anonymous.post("/users", json=staff_payload())

    assert_problem(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"] == "Bearer"


def test_creating_a_user_with_a_taken_email_is_email_taken(
    secretariat: TestClient, applicant: TestClient
) -> None:
    taken = applicant.user["email"].upper()

    answer = secretariat.post("/users", json=staff_payload(email=taken))

    assert_problem(answer, 409, "email_taken")


# Listing


def test_listing_filters_by_role_and_pages(
    secretariat: TestClient, trainer: TestClient, applicant: TestClient, make_user: UserFactory
) -> None:
    more = [make_user("trainer").user["id"], make_user("trainer").user["id"]]
    trainer_ids = [trainer.user["id"], *more]

    everyone = secretariat.get("/users").json()
    first_page = secretariat.get("/users", params={"role": "trainer", "limit": 2}).json()
    second_page = secretariat.get("/users", params={"role": "trainer", "limit": 2, "offset": 2}).json()

    assert everyone["total"] == 5
    assert {u["role"] for u in everyone["items"]} == {"secretariat", "trainer", "applicant"}
    assert (first_page["total"], first_page["limit"], first_page["offset"]) == (3, 2, 0)
    assert (second_page["total"], second_page["limit"], second_page["offset"]) == (3, 2, 2)
    listed = first_page["items"] + second_page["items"]
    assert [u["id"] for u in listed] == sorted(trainer_ids)
    assert {u["role"] for u in listed} == {"trainer"}
    assert set(listed[0]) == USER_FIELDS


@pytest.mark.parametrize(
    "params",
    [{"limit": 101}, {"limit": 0}, {"offset": -1}, {"role": "admin"}, {"limit": "many"}, {"role": "x" * 500}],
)
def test_listing_with_a_bad_query_is_validation_error(
    secretariat: TestClient, params: dict[str, Any]
) -> None:
    body = assert_problem(secretariat.get("/users", params=params), 422, "validation_error")

    assert {tuple(error["loc"]) for error in body["errors"]} == {("query", next(iter(params)))}


def test_listing_accepts_the_largest_page(secretariat: TestClient) -> None:
    answer = secretariat.get("/users", params={"limit": 100})

    assert answer.status_code == 200, answer.text
    assert answer.json()["limit"] == 100


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_only_the_secretariat_lists_users(request: pytest.FixtureRequest, role: str) -> None:
    client: TestClient = request.getfixturevalue(role)

    assert_problem(client.get("/users", params={"role": "trainer"}), 403, "forbidden")


# Reading one user


def test_secretariat_reads_any_user(
    secretariat: TestClient, applicant: TestClient, trainer: TestClient
) -> None:
    for user in (applicant.user, trainer.user, secretariat.user):
        answer = secretariat.get(f"/users/{user['id']}")
        assert answer.status_code == 200, answer.text
        assert answer.json() == user


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_a_user_reads_itself(request: pytest.FixtureRequest, role: str) -> None:
    client: TestClient = request.getfixturevalue(role)

    answer = client.get(f"/users/{client.user['id']}")

    assert answer.status_code == 200, answer.text
    assert answer.json() == client.user


@pytest.mark.parametrize(("reader", "read"), [("applicant", "trainer"), ("trainer", "applicant")])
def test_another_users_account_is_not_found_for_non_staff(
    request: pytest.FixtureRequest, secretariat: TestClient, reader: str, read: str
) -> None:
    client: TestClient = request.getfixturevalue(reader)
    other: TestClient = request.getfixturevalue(read)

    for user_id in (other.user["id"], secretariat.user["id"]):
        body = assert_problem(client.get(f"/users/{user_id}"), 404, "not_found")
        # Not found reads the same as for an id that does not exist: nothing leaks.
        assert body == client.get("/users/999999").json()


@pytest.mark.parametrize("user_id", ["999999", str(2**31 - 1)])
def test_unknown_user_is_not_found(secretariat: TestClient, user_id: str) -> None:
    assert_problem(secretariat.get(f"/users/{user_id}"), 404, "not_found")


@pytest.mark.parametrize(
    "user_id", [str(2**31), str(2**63 - 1), str(2**63), "9" * 30, "0", "-1", "1.5", "abc"]
)
@pytest.mark.parametrize("role", ["secretariat", "applicant"])
def test_ids_out_of_range_are_refused_without_500(
    request: pytest.FixtureRequest, role: str, user_id: str
) -> None:
    client: TestClient = request.getfixturevalue(role)

    answer = client.get(f"/users/{user_id}")

    assert answer.status_code in (404, 422), answer.text
    assert_problem(
        answer, answer.status_code, {404: "not_found", 422: "validation_error"}[answer.status_code]
    )


# Changing a user


def test_secretariat_renames_a_user(secretariat: TestClient, trainer: TestClient, clock: FixedClock) -> None:
    clock.set(START + timedelta(minutes=10))

    answer = secretariat.patch(f"/users/{trainer.user['id']}", json={"full_name": "Élise d’Arçy-Müller"})

    assert answer.status_code == 200, answer.text
    renamed = answer.json()
    assert renamed["full_name"] == "Élise d’Arçy-Müller"
    assert (renamed["email"], renamed["role"], renamed["active"]) == (trainer.user["email"], "trainer", True)
    assert datetime.fromisoformat(renamed["updated_at"]) == START + timedelta(minutes=10)
    assert trainer.get("/users/me").json() == renamed


def test_secretariat_deactivates_a_user(secretariat: TestClient, applicant: TestClient) -> None:
    answer = secretariat.patch(f"/users/{applicant.user['id']}", json={"active": False})

    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is False
    assert answer.json()["full_name"] == applicant.user["full_name"]
    assert secretariat.get(f"/users/{applicant.user['id']}").json()["active"] is False
    assert_problem(applicant.get("/users/me"), 401, "unauthorized")


def test_patching_the_role_changes_nothing(secretariat: TestClient, applicant: TestClient) -> None:
    secretariat.patch(f"/users/{applicant.user['id']}", json={"role": "secretariat"})

    assert secretariat.get(f"/users/{applicant.user['id']}").json()["role"] == "applicant"
    assert_problem(applicant.get("/users"), 403, "forbidden")


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_a_user_may_not_patch_itself(request: pytest.FixtureRequest, role: str) -> None:
    client: TestClient = request.getfixturevalue(role)

    answer = client.patch(f"/users/{client.user['id']}", json={"full_name": "Nouveau nom"})

    assert_problem(answer, 403, "forbidden")
    assert client.get("/users/me").json()["full_name"] == client.user["full_name"]


def test_patching_someone_else_is_not_found_for_non_staff(
    applicant: TestClient, trainer: TestClient, secretariat: TestClient
) -> None:
    answer = applicant.patch(f"/users/{trainer.user['id']}", json={"active": False})

    assert_problem(answer, 404, "not_found")
    assert trainer.get("/users/me").status_code == 200


def test_patching_an_unknown_user_is_not_found(secretariat: TestClient) -> None:
    assert_problem(secretariat.patch("/users/999999", json={"active": False}), 404, "not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"full_name": None},
        {"active": None},
        {"full_name": ""},
        {"full_name": "   "},
        {"full_name": "A" * 201},
        {"active": "maybe"},
    ],
)
def test_patching_with_an_invalid_value_is_validation_error(
    secretariat: TestClient, trainer: TestClient, body: dict[str, Any]
) -> None:
    answer = secretariat.patch(f"/users/{trainer.user['id']}", json=body)

    problem = assert_problem(answer, 422, "validation_error")
    assert {tuple(error["loc"]) for error in problem["errors"]} == {("body", next(iter(body)))}
    assert secretariat.get(f"/users/{trainer.user['id']}").json() == trainer.user
