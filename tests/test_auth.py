"""Registration, logins and their limits, access tokens, refresh-token rotation and API keys."""

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jose import jwt
from jose.utils import base64url_encode

from api.clock import FixedClock
from api.config import Settings
from api.main import create_app
from tests.conftest import PASSWORD, START, TEST_SECRET_KEY, AppClient, UserFactory, serving
from tests.problems import assert_problem, assert_unauthorized

PROBLEM = "application/problem+json"
WRONG_PASSWORD = "not the right password"
FRENCH_NAME = "Zoé L’Héritier-Dupré, « 2 000 € » à l’été"


def error_locations(body: dict[str, Any]) -> set[tuple[str | int, ...]]:
    assert all(error["msg"] for error in body["errors"])
    return {tuple(error["loc"]) for error in body["errors"]}


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def request_token(client: TestClient, email: str, password: str) -> httpx.Response:
    return client.post("/auth/token", data={"username": email, "password": password})


def client_at(app: FastAPI, address: str) -> TestClient:
    """An anonymous client calling from another network address."""
    return AppClient(app, address=address)


def registration(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": "camille.durand@example.org",
        "password": "une phrase de passe longue",
        "full_name": "Camille Durand",
    }
    body.update(overrides)
    return body


# Registration


def test_register_opens_an_applicant_account_at_its_location(anonymous: TestClient) -> None:
    answer = anonymous.post("/auth/register", json=registration())

    assert answer.status_code == 201, answer.text
    user = answer.json()
    assert user["role"] == "applicant"
    assert user["email"] == "camille.durand@example.org"
    assert user["full_name"] == "Camille Durand"
    assert user["active"] is True
    assert "password" not in user and "password_hash" not in user
    assert answer.headers["location"] == f"/api/v1/users/{user['id']}"
    login = request_token(anonymous, "camille.durand@example.org", "une phrase de passe longue")
    assert login.status_code == 200, login.text
    me = anonymous.get("/users/me", headers=bearer(login.json()["access_token"]))
    assert me.json() == user


def test_register_needs_a_password_of_at_least_ten_characters(anonymous: TestClient) -> None:
    answer = anonymous.post("/auth/register", json=registration(password="123456789"))

    body = assert_problem(answer, 422, "validation_error")
    assert error_locations(body) == {("body", "password")}
    ten = anonymous.post("/auth/register", json=registration(password="1234567890"))
    assert ten.status_code == 201, ten.text


@pytest.mark.parametrize("email", ["camille.durand@example.org", "Camille.DURAND@Example.ORG"])
def test_register_with_a_taken_email_in_any_case_is_email_taken(anonymous: TestClient, email: str) -> None:
    assert anonymous.post("/auth/register", json=registration()).status_code == 201

    answer = anonymous.post("/auth/register", json=registration(email=email, full_name="Autre"))

    assert_problem(answer, 409, "email_taken")


def test_register_stores_the_email_in_lower_case(anonymous: TestClient) -> None:
    answer = anonymous.post("/auth/register", json=registration(email="Camille.DURAND@Example.ORG"))

    assert answer.status_code == 201, answer.text
    assert answer.json()["email"] == "camille.durand@example.org"
    assert_problem(anonymous.post("/auth/register", json=registration()), 409, "email_taken")
    assert (
        request_token(anonymous, "camille.durand@example.org", registration()["password"]).status_code == 200
    )


def test_register_without_fields_lists_each_missing_one(anonymous: TestClient) -> None:
    body = assert_problem(anonymous.post("/auth/register", json={}), 422, "validation_error")

    assert error_locations(body) == {("body", "email"), ("body", "password"), ("body", "full_name")}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", 12345),
        ("email", "not-an-email"),
        ("password", 12345678901),
        ("password", None),
        ("full_name", ["Camille", "Durand"]),
        ("full_name", {"first": "Camille"}),
    ],
)
def test_register_with_a_wrong_type_is_validation_error(
    anonymous: TestClient, field: str, value: Any
) -> None:
    answer = anonymous.post("/auth/register", json=registration(**{field: value}))

    body = assert_problem(answer, 422, "validation_error")
    assert ("body", field) in error_locations(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("full_name", "A" * 201),
        ("password", "p" * 129),
        ("email", "a" * 64 + "@" + ".".join(["b" * 63] * 3) + ".org"),
        ("full_name", ""),
        ("full_name", " \t  "),
    ],
)
def test_register_with_a_string_out_of_bounds_is_validation_error(
    anonymous: TestClient, field: str, value: str
) -> None:
    answer = anonymous.post("/auth/register", json=registration(**{field: value}))

    body = assert_problem(answer, 422, "validation_error")
    assert ("body", field) in error_locations(body)


def test_register_accepts_strings_at_their_maximum_length(anonymous: TestClient) -> None:
    answer = anonymous.post("/auth/register", json=registration(full_name="É" * 200, password="p" * 128))

    assert answer.status_code == 201, answer.text
    assert answer.json()["full_name"] == "É" * 200


def test_register_refuses_a_nul_byte_in_the_name(anonymous: TestClient) -> None:
    answer = anonymous.post("/auth/register", json=registration(full_name="Camille\x00Durand"))

    body = assert_problem(answer, 422, "validation_error")
    assert error_locations(body) == {("body", "full_name")}


def test_french_name_round_trips_exactly(anonymous: TestClient, secretariat: TestClient) -> None:
    answer = anonymous.post("/auth/register", json=registration(full_name=FRENCH_NAME))

    assert answer.status_code == 201, answer.text
    assert answer.json()["full_name"] == FRENCH_NAME
    assert "€".encode() in answer.content  # sent as UTF-8, not only as \u escapes
    assert secretariat.get(f"/users/{answer.json()['id']}").json()["full_name"] == FRENCH_NAME


# Logging in


def test_login_answers_a_bearer_token_pair(anonymous: TestClient, applicant: TestClient) -> None:
    answer = request_token(anonymous, applicant.user["email"], PASSWORD)

    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 15 * 60
    assert tokens["refresh_token"] != tokens["access_token"]
    me = anonymous.get("/users/me", headers=bearer(tokens["access_token"]))
    assert me.json()["id"] == applicant.user["id"]


def test_login_email_is_case_insensitive(anonymous: TestClient, applicant: TestClient) -> None:
    answer = request_token(anonymous, applicant.user["email"].upper(), PASSWORD)

    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("which", ["wrong password", "unknown email"])
def test_wrong_password_or_unknown_email_is_invalid_credentials(
    anonymous: TestClient, applicant: TestClient, which: str
) -> None:
    if which == "wrong password":
        answer = request_token(anonymous, applicant.user["email"], WRONG_PASSWORD)
    else:
        answer = request_token(anonymous, "nobody@example.org", PASSWORD)

    body = assert_problem(answer, 401, "invalid_credentials")
    assert "access_token" not in body
    assert answer.headers["www-authenticate"] == "Bearer"
    # Both failures read the same, so that the answer does not tell which accounts exist.
    assert body["detail"] == "The email or the password is wrong."


def test_deactivated_user_cannot_log_in(
    anonymous: TestClient, applicant: TestClient, secretariat: TestClient
) -> None:
    deactivation = secretariat.patch(f"/users/{applicant.user['id']}", json={"active": False})
    assert deactivation.status_code == 200, deactivation.text

    answer = request_token(anonymous, applicant.user["email"], PASSWORD)

    assert_problem(answer, 401, "invalid_credentials")


def test_login_as_json_instead_of_a_form_is_validation_error(
    anonymous: TestClient, applicant: TestClient
) -> None:
    answer = anonymous.post("/auth/token", json={"username": applicant.user["email"], "password": PASSWORD})

    body = assert_problem(answer, 422, "validation_error")
    assert {("body", "username"), ("body", "password")} <= error_locations(body)


def test_login_form_fields_have_a_maximum_length(anonymous: TestClient) -> None:
    answer = request_token(anonymous, "a" * 255, PASSWORD)

    body = assert_problem(answer, 422, "validation_error")
    assert error_locations(body) == {("body", "username")}


def test_ten_failed_logins_for_one_account_lock_it_even_with_the_right_password(
    app: FastAPI, applicant: TestClient
) -> None:
    email = applicant.user["email"]
    # Each failure from its own address, so that only the per-account count can trip.
    for n in range(9):
        with client_at(app, f"192.0.2.{n + 1}") as client:
            assert_problem(request_token(client, email, WRONG_PASSWORD), 401, "invalid_credentials")
    with client_at(app, "192.0.2.100") as client:
        assert request_token(client, email, PASSWORD).status_code == 200
        assert_problem(request_token(client, email, WRONG_PASSWORD), 401, "invalid_credentials")
    with client_at(app, "198.51.100.7") as client:
        answer = request_token(client, email, PASSWORD)

    body = assert_problem(answer, 429, "too_many_attempts")
    assert "access_token" not in body
    assert answer.headers["retry-after"] == str(15 * 60)


def test_login_works_again_once_the_failures_leave_the_window(
    anonymous: TestClient, applicant: TestClient, clock: FixedClock
) -> None:
    email = applicant.user["email"]
    for _ in range(10):
        assert_problem(request_token(anonymous, email, WRONG_PASSWORD), 401, "invalid_credentials")

    clock.set(START + timedelta(minutes=10))
    still_locked = request_token(anonymous, email, PASSWORD)
    assert_problem(still_locked, 429, "too_many_attempts")
    assert still_locked.headers["retry-after"] == str(5 * 60)

    clock.set(START + timedelta(minutes=15))
    assert request_token(anonymous, email, PASSWORD).status_code == 200


def fail_logins(client: TestClient, count: int, *, first: int = 0) -> None:
    """`count` failed logins from the client's address, each for an account of its own."""
    for n in range(first, first + count):
        failure = request_token(client, f"nobody-{n}@example.org", WRONG_PASSWORD)
        assert_problem(failure, 401, "invalid_credentials")


def test_ninety_nine_failures_from_one_address_leave_its_correct_logins_working(
    anonymous: TestClient, make_user: UserFactory
) -> None:
    colleague = make_user(email="collegue@example.org")
    fail_logins(anonymous, 99)

    answer = request_token(anonymous, colleague.user["email"], PASSWORD)

    assert answer.status_code == 200, answer.text
    # The success did not count: the address still has one failure to go.
    fail_logins(anonymous, 1, first=99)


def test_a_hundred_failures_from_one_address_refuse_it_even_with_a_correct_password(
    app: FastAPI, anonymous: TestClient, applicant: TestClient, clock: FixedClock
) -> None:
    fail_logins(anonymous, 60)
    clock.set(START + timedelta(minutes=5))
    fail_logins(anonymous, 40, first=60)

    answer = request_token(anonymous, applicant.user["email"], PASSWORD)

    body = assert_problem(answer, 429, "too_many_attempts")
    assert "access_token" not in body
    # The oldest failure leaves the window first, 15 minutes after it happened.
    assert answer.headers["retry-after"] == str(10 * 60)
    # A refusal is no failure: it neither locks the account nor moves the address's retry time.
    assert request_token(anonymous, applicant.user["email"], PASSWORD).headers["retry-after"] == str(10 * 60)
    with client_at(app, "203.0.113.5") as elsewhere:
        assert request_token(elsewhere, applicant.user["email"], PASSWORD).status_code == 200


def test_the_failures_allowed_per_address_are_a_setting_of_their_own(
    settings: Settings, clock: FixedClock, applicant: TestClient
) -> None:
    email = applicant.user["email"]
    app = create_app(settings.model_copy(update={"login_failures_per_address_limit": 3}), clock=clock)
    with serving(app), client_at(app, "192.0.2.30") as office, client_at(app, "192.0.2.31") as home:
        for _ in range(3):
            assert_problem(request_token(office, email, WRONG_PASSWORD), 401, "invalid_credentials")

        assert_problem(request_token(office, email, PASSWORD), 429, "too_many_attempts")
        # The account's own limit is still 10: three failures leave it open elsewhere.
        assert request_token(home, email, PASSWORD).status_code == 200


# Access tokens


def test_access_token_carries_the_contract_claims(applicant: TestClient, settings: Settings) -> None:
    token = applicant.tokens["access_token"]

    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(
        token,
        TEST_SECRET_KEY,
        algorithms=["HS256"],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        options={"verify_exp": False},
    )
    assert set(claims) == {"sub", "role", "exp", "iat", "jti", "iss", "aud", "ver"}
    assert claims["ver"] == 0
    assert claims["sub"] == str(applicant.user["id"])
    assert claims["role"] == "applicant"
    assert claims["iat"] == int(START.timestamp())
    assert claims["exp"] == int((START + timedelta(minutes=15)).timestamp())
    assert claims["iss"] == settings.jwt_issuer == "ateliers"
    assert claims["aud"] == settings.jwt_audience == "ateliers-api"
    second_login = request_token(applicant, applicant.user["email"], PASSWORD).json()
    assert jwt.get_unverified_claims(second_login["access_token"])["jti"] != claims["jti"]


def service_claims(user_id: int, settings: Settings, now: datetime, **overrides: Any) -> dict[str, Any]:
    """Claims shaped like the service's own, for forging tokens."""
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": "applicant",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=15)).timestamp()),
        "jti": uuid.uuid4().hex,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "ver": 0,
    }
    claims.update(overrides)
    return claims


def unsigned_token(claims: dict[str, Any]) -> str:
    """A token with `alg: none`, which python-jose refuses to produce."""
    header = base64url_encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).decode()
    payload = base64url_encode(json.dumps(claims).encode()).decode()
    return f"{header}.{payload}."


def signed(claims: dict[str, Any], key: str = TEST_SECRET_KEY, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


FORGERIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "signed with another key": lambda c: signed(c, key="another-secret-key-that-is-long-enough-98765"),
    "alg none": unsigned_token,
    "another algorithm with the right key": lambda c: signed(c, algorithm="HS512"),
    "another audience": lambda c: signed({**c, "aud": "another-api"}),
    "another issuer": lambda c: signed({**c, "iss": "someone-else"}),
    "no subject": lambda c: signed({k: v for k, v in c.items() if k != "sub"}),
    "no expiry": lambda c: signed({k: v for k, v in c.items() if k != "exp"}),
    "an unknown user": lambda c: signed({**c, "sub": "987654321"}),
    "a subject beyond 64 bits": lambda c: signed({**c, "sub": "9" * 30}),
    "a subject beyond the id column": lambda c: signed({**c, "sub": str(2**31)}),
    "no audience": lambda c: signed({k: v for k, v in c.items() if k != "aud"}),
    "no issuer": lambda c: signed({k: v for k, v in c.items() if k != "iss"}),
    "a subject in superscript digits": lambda c: signed({**c, "sub": "¹"}),
    "a subject in Arabic-Indic digits": lambda c: signed({**c, "sub": "١"}),
    "a subject with a sign": lambda c: signed({**c, "sub": "+1"}),
    "a subject in full-width digits": lambda c: signed({**c, "sub": "１"}),
    "a subject with a trailing newline": lambda c: signed({**c, "sub": c["sub"] + "\n"}),
    "a subject with leading zeros beyond 18 digits": lambda c: signed({**c, "sub": c["sub"].zfill(19)}),
    "issued one second in the future": lambda c: signed({**c, "iat": c["iat"] + 1}),
    "issued in the future": lambda c: signed({**c, "iat": c["iat"] + 3600}),
    "no issue time": lambda c: signed({k: v for k, v in c.items() if k != "iat"}),
    "no credentials version": lambda c: signed({k: v for k, v in c.items() if k != "ver"}),
    "an older credentials version": lambda c: signed({**c, "ver": 1}),
    "a credentials version as text": lambda c: signed({**c, "ver": "0"}),
    "signed with the foundation's published development key": lambda c: signed(
        c, key="development-only-secret-key-do-not-use-in-production"
    ),
    "garbage": lambda c: "not.a.jwt",
    "an empty payload": lambda c: "e30.e30.",
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_access_token_is_unauthorized(
    anonymous: TestClient, applicant: TestClient, settings: Settings, forgery: str
) -> None:
    token = FORGERIES[forgery](service_claims(applicant.user["id"], settings, START))

    assert_unauthorized(anonymous.get("/users/me", headers=bearer(token)))


def test_token_built_like_the_services_own_is_accepted(
    anonymous: TestClient, applicant: TestClient, settings: Settings
) -> None:
    # The control for the forgeries above: only what each one changes makes it fail.
    token = signed(service_claims(applicant.user["id"], settings, START))

    answer = anonymous.get("/users/me", headers=bearer(token))

    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == applicant.user["id"]


def test_role_claim_is_not_trusted_the_database_is(
    anonymous: TestClient, applicant: TestClient, settings: Settings
) -> None:
    token = signed(service_claims(applicant.user["id"], settings, START, role="secretariat"))

    answer = anonymous.get("/users", headers=bearer(token))

    assert_problem(answer, 403, "forbidden")


def test_access_token_expires_after_fifteen_minutes(applicant: TestClient, clock: FixedClock) -> None:
    clock.set(START + timedelta(minutes=15) - timedelta(seconds=1))
    assert applicant.get("/users/me").status_code == 200

    clock.set(START + timedelta(minutes=15))
    assert_unauthorized(applicant.get("/users/me"))


def test_deactivation_stops_access_and_refresh_tokens_at_once(
    anonymous: TestClient, applicant: TestClient, secretariat: TestClient
) -> None:
    assert applicant.get("/users/me").status_code == 200

    deactivation = secretariat.patch(f"/users/{applicant.user['id']}", json={"active": False})
    assert deactivation.status_code == 200, deactivation.text

    assert_unauthorized(applicant.get("/users/me"))
    refresh = anonymous.post("/auth/refresh", json={"refresh_token": applicant.tokens["refresh_token"]})
    assert_unauthorized(refresh)


def test_a_bad_credential_is_refused_even_on_a_public_route(anonymous: TestClient) -> None:
    assert_unauthorized(anonymous.get("/sessions", headers=bearer("not.a.jwt")))


# Refresh tokens


def refresh(client: TestClient, refresh_token: str) -> httpx.Response:
    return client.post("/auth/refresh", json={"refresh_token": refresh_token})


def test_refresh_answers_a_new_working_pair(anonymous: TestClient, applicant: TestClient) -> None:
    answer = refresh(anonymous, applicant.tokens["refresh_token"])

    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "bearer"
    assert tokens["refresh_token"] != applicant.tokens["refresh_token"]
    assert tokens["access_token"] != applicant.tokens["access_token"]
    me = anonymous.get("/users/me", headers=bearer(tokens["access_token"]))
    assert me.json()["id"] == applicant.user["id"]
    assert refresh(anonymous, tokens["refresh_token"]).status_code == 200


def test_reused_refresh_token_revokes_its_family(anonymous: TestClient, applicant: TestClient) -> None:
    first = applicant.tokens["refresh_token"]
    second = refresh(anonymous, first).json()["refresh_token"]
    other_login = request_token(anonymous, applicant.user["email"], PASSWORD).json()["refresh_token"]

    assert_unauthorized(refresh(anonymous, first))

    assert_unauthorized(refresh(anonymous, second))
    # Another login of the same user is another family, untouched.
    assert refresh(anonymous, other_login).status_code == 200


def test_unknown_refresh_token_is_unauthorized(anonymous: TestClient) -> None:
    assert_unauthorized(refresh(anonymous, "rt_" + "x" * 43))


def test_refresh_token_expires_after_thirty_days(
    anonymous: TestClient, applicant: TestClient, clock: FixedClock
) -> None:
    later_login = request_token(anonymous, applicant.user["email"], PASSWORD).json()["refresh_token"]

    clock.set(START + timedelta(days=29))
    assert refresh(anonymous, later_login).status_code == 200

    clock.set(START + timedelta(days=31))
    assert_unauthorized(refresh(anonymous, applicant.tokens["refresh_token"]))


@pytest.mark.parametrize(
    "body", [{}, {"refresh_token": ""}, {"refresh_token": 42}, {"refresh_token": "x" * 201}]
)
def test_refresh_with_a_malformed_body_is_validation_error(
    anonymous: TestClient, body: dict[str, Any]
) -> None:
    answer = anonymous.post("/auth/refresh", json=body)

    problem = assert_problem(answer, 422, "validation_error")
    assert error_locations(problem) == {("body", "refresh_token")}


def test_logout_ends_the_refresh_token(anonymous: TestClient, applicant: TestClient) -> None:
    answer = anonymous.post("/auth/logout", json={"refresh_token": applicant.tokens["refresh_token"]})

    assert answer.status_code == 204
    assert answer.content == b""
    assert_unauthorized(refresh(anonymous, applicant.tokens["refresh_token"]))


def test_logout_with_an_unknown_token_is_no_content(anonymous: TestClient) -> None:
    answer = anonymous.post("/auth/logout", json={"refresh_token": "rt_unknown"})

    assert answer.status_code == 204


# API keys


def mint_key(
    client: TestClient, *, role: str = "secretariat", expires_at: datetime | None = None
) -> httpx.Response:
    expires_at = expires_at or START + timedelta(days=30)
    return client.post(
        "/auth/api-keys",
        json={"name": "export comptable", "role": role, "expires_at": expires_at.isoformat()},
    )


def test_api_key_is_shown_once_and_acts_as_its_minter(anonymous: TestClient, secretariat: TestClient) -> None:
    answer = mint_key(secretariat)

    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert answer.headers["location"] == f"/api/v1/auth/api-keys/{created['id']}"
    assert created["name"] == "export comptable"
    assert created["role"] == "secretariat"
    assert datetime.fromisoformat(created["expires_at"]) == START + timedelta(days=30)
    key = created["key"]
    assert len(key) >= 32
    me = anonymous.get("/users/me", headers=bearer(key))
    assert me.status_code == 200, me.text
    assert me.json() == secretariat.user
    listing = secretariat.get("/auth/api-keys")
    assert listing.status_code == 200
    assert [item["id"] for item in listing.json()["items"]] == [created["id"]]
    assert "key" not in listing.json()["items"][0]
    assert key not in listing.text
    one = secretariat.get(f"/auth/api-keys/{created['id']}")
    assert "key" not in one.json() and key not in one.text


def test_api_key_acts_with_the_role_it_was_minted_for(anonymous: TestClient, secretariat: TestClient) -> None:
    key = mint_key(secretariat, role="trainer").json()["key"]

    answer = anonymous.post(
        "/users",
        headers=bearer(key),
        json={"email": "f@example.org", "password": PASSWORD, "full_name": "F", "role": "trainer"},
    )

    assert_problem(answer, 403, "forbidden")
    assert_problem(anonymous.get("/users", headers=bearer(key)), 403, "forbidden")
    assert anonymous.get("/users/me", headers=bearer(key)).json()["id"] == secretariat.user["id"]


def test_revoked_api_key_is_unauthorized(anonymous: TestClient, secretariat: TestClient) -> None:
    created = mint_key(secretariat).json()
    assert anonymous.get("/users/me", headers=bearer(created["key"])).status_code == 200

    answer = secretariat.delete(f"/auth/api-keys/{created['id']}")

    assert answer.status_code == 204
    assert_unauthorized(anonymous.get("/users/me", headers=bearer(created["key"])))
    assert secretariat.get("/auth/api-keys").json()["items"] == []
    revoked = secretariat.get("/auth/api-keys", params={"include_revoked": "true"}).json()["items"]
    assert [item["id"] for item in revoked] == [created["id"]]
    assert revoked[0]["revoked_at"] is not None


@pytest.mark.parametrize("key_id", ["999999", str(2**31 - 1)])
def test_unknown_api_key_is_not_found(secretariat: TestClient, key_id: str) -> None:
    assert_problem(secretariat.get(f"/auth/api-keys/{key_id}"), 404, "not_found")
    assert_problem(secretariat.delete(f"/auth/api-keys/{key_id}"), 404, "not_found")


@pytest.mark.parametrize("key_id", [str(2**31), str(2**63 - 1), str(2**63), "9" * 30])
def test_api_key_ids_beyond_any_stored_id_are_refused_without_500(
    secretariat: TestClient, key_id: str
) -> None:
    for answer in (
        secretariat.get(f"/auth/api-keys/{key_id}"),
        secretariat.delete(f"/auth/api-keys/{key_id}"),
    ):
        assert answer.status_code in (404, 422), answer.text
        assert_problem(
            answer, answer.status_code, {404: "not_found", 422: "validation_error"}[answer.status_code]
        )


@pytest.mark.parametrize("key_id", ["0", "-1", "abc"])
def test_api_key_ids_that_are_not_ids_are_validation_errors(secretariat: TestClient, key_id: str) -> None:
    assert_problem(secretariat.delete(f"/auth/api-keys/{key_id}"), 422, "validation_error")


def test_expired_api_key_is_unauthorized(
    anonymous: TestClient, secretariat: TestClient, clock: FixedClock
) -> None:
    key = mint_key(secretariat, expires_at=START + timedelta(hours=1)).json()["key"]

    clock.set(START + timedelta(minutes=59))
    assert anonymous.get("/users/me", headers=bearer(key)).status_code == 200

    clock.set(START + timedelta(hours=1))
    assert_unauthorized(anonymous.get("/users/me", headers=bearer(key)))


def test_api_key_of_a_deactivated_minter_is_unauthorized(
    anonymous: TestClient, secretariat: TestClient, make_user: UserFactory
) -> None:
    key = mint_key(secretariat).json()["key"]
    colleague = make_user("secretariat")

    deactivation = colleague.patch(f"/users/{secretariat.user['id']}", json={"active": False})
    assert deactivation.status_code == 200, deactivation.text

    assert_unauthorized(anonymous.get("/users/me", headers=bearer(key)))


def test_unknown_api_key_is_unauthorized(anonymous: TestClient) -> None:
    assert_unauthorized(anonymous.get("/users/me", headers=bearer("atk_" + "x" * 43)))


@pytest.mark.parametrize(
    "expires_at", ["2027-01-14T08:59:59+00:00", "2027-01-14T09:00:00Z", "2020-01-01T00:00:00Z"]
)
def test_api_key_expiring_in_the_past_is_validation_error(secretariat: TestClient, expires_at: str) -> None:
    answer = secretariat.post(
        "/auth/api-keys", json={"name": "script", "role": "secretariat", "expires_at": expires_at}
    )

    body = assert_problem(answer, 422, "validation_error")
    assert error_locations(body) == {("body", "expires_at")}


@pytest.mark.parametrize(
    "body",
    [
        {"name": "script", "role": "secretariat", "expires_at": "2027-06-30T00:00:00"},
        {"name": "script", "role": "admin", "expires_at": "2027-06-30T00:00:00Z"},
        {"name": "", "role": "trainer", "expires_at": "2027-06-30T00:00:00Z"},
        {"role": "trainer", "expires_at": "2027-06-30T00:00:00Z"},
    ],
)
def test_api_key_request_must_be_complete_and_valid(secretariat: TestClient, body: dict[str, Any]) -> None:
    assert_problem(secretariat.post("/auth/api-keys", json=body), 422, "validation_error")


@pytest.mark.parametrize("length", [101, 150, 200])
def test_an_api_key_name_longer_than_its_column_is_a_validation_error(
    secretariat: TestClient, length: int
) -> None:
    body = {"name": "n" * length, "role": "trainer", "expires_at": (START + timedelta(days=30)).isoformat()}

    answer = secretariat.post("/auth/api-keys", json=body)

    problem = assert_problem(answer, 422, "validation_error")
    assert any(error["loc"] == ["body", "name"] for error in problem["errors"]), problem["errors"]
    listing = secretariat.get("/auth/api-keys", params={"include_revoked": "true"})
    assert listing.json()["items"] == []


def test_an_api_key_name_as_long_as_its_column_is_kept_whole(secretariat: TestClient) -> None:
    name = "é" * 100
    body = {"name": name, "role": "trainer", "expires_at": (START + timedelta(days=30)).isoformat()}

    answer = secretariat.post("/auth/api-keys", json=body)

    assert answer.status_code == 201, answer.text
    assert secretariat.get(f"/auth/api-keys/{answer.json()['id']}").json()["name"] == name


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_a_long_api_key_name_from_another_role_is_still_forbidden(
    request: pytest.FixtureRequest, secretariat: TestClient, role: str
) -> None:
    client: TestClient = request.getfixturevalue(role)
    body = {"name": "n" * 150, "role": "trainer", "expires_at": (START + timedelta(days=30)).isoformat()}

    assert_problem(client.post("/auth/api-keys", json=body), 403, "forbidden")
    assert secretariat.get("/auth/api-keys", params={"include_revoked": "true"}).json()["items"] == []


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_only_the_secretariat_manages_api_keys(
    request: pytest.FixtureRequest, secretariat: TestClient, role: str
) -> None:
    created = mint_key(secretariat).json()
    client: TestClient = request.getfixturevalue(role)

    assert_problem(mint_key(client), 403, "forbidden")
    assert_problem(client.get("/auth/api-keys"), 403, "forbidden")
    assert_problem(client.get(f"/auth/api-keys/{created['id']}"), 403, "forbidden")
    assert_problem(client.delete(f"/auth/api-keys/{created['id']}"), 403, "forbidden")
    assert secretariat.get(f"/auth/api-keys/{created['id']}").json()["revoked_at"] is None


def test_anonymous_api_key_calls_are_unauthorized(anonymous: TestClient, secretariat: TestClient) -> None:
    created = mint_key(secretariat).json()

    assert_unauthorized(mint_key(anonymous))
    assert_unauthorized(anonymous.get("/auth/api-keys"))
    assert_unauthorized(anonymous.delete(f"/auth/api-keys/{created['id']}"))


def test_api_key_expiry_reads_the_same_when_minted_and_when_listed(secretariat: TestClient) -> None:
    paris_summer = "2027-06-30T00:00:00+02:00"
    created = secretariat.post(
        "/auth/api-keys", json={"name": "export", "role": "trainer", "expires_at": paris_summer}
    ).json()
    listed = secretariat.get(f"/auth/api-keys/{created['id']}").json()
    assert created["expires_at"] == listed["expires_at"]
    assert datetime.fromisoformat(created["expires_at"]) == datetime.fromisoformat(paris_summer)
