"""Every error is problem+json with a stable code; no input, however malformed, gets a 500."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import session_payload
from tests.problems import assert_problem

PROBLEM = "application/problem+json"


def test_unknown_path_is_not_found_problem(anonymous: TestClient) -> None:
    assert_problem(anonymous.get("/no-such-resource"), 404, "not_found")


def test_wrong_method_is_method_not_allowed_problem(anonymous: TestClient) -> None:
    assert_problem(anonymous.put("/sessions"), 405, "method_not_allowed")


def test_missing_token_is_unauthorized_with_bearer_challenge(anonymous: TestClient) -> None:
    body = assert_problem(anonymous.post("/sessions", json=session_payload()), 401, "unauthorized")
    assert body["detail"]
    assert anonymous.post("/sessions", json={}).headers["www-authenticate"] == "Bearer"


def test_validation_error_lists_each_field(secretariat: TestClient) -> None:
    answer = secretariat.post("/sessions", json={"title": "", "capacity": "many"})
    body = assert_problem(answer, 422, "validation_error")
    locations = {tuple(error["loc"]) for error in body["errors"]}
    assert ("body", "capacity") in locations
    assert ("body", "start_date") in locations
    assert all(error["msg"] for error in body["errors"])


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", b"[1, 2", b'{"title": "\xff\xfe"}', b"null", b"12345678901234567890123456789"],
)
def test_malformed_json_is_validation_error(secretariat: TestClient, content: bytes) -> None:
    answer = secretariat.post("/sessions", content=content, headers={"content-type": "application/json"})
    assert_problem(answer, 422, "validation_error")


def test_wrong_content_type_is_refused_without_500(secretariat: TestClient) -> None:
    answer = secretariat.post("/sessions", content=b"title=x", headers={"content-type": "text/plain"})
    assert answer.status_code in (415, 422)
    assert answer.headers["content-type"].startswith(PROBLEM)


def test_nul_bytes_are_refused_in_bodies_and_queries(secretariat: TestClient, anonymous: TestClient) -> None:
    assert_problem(
        secretariat.post("/sessions", json=session_payload(title="a\x00b")), 422, "validation_error"
    )
    assert_problem(anonymous.get("/sessions", params={"q": "a\x00b"}), 422, "validation_error")
    assert_problem(anonymous.get("/sessions", params={"city": "Pa\x00ris"}), 422, "validation_error")
    assert secretariat.get("/sessions").json()["total"] == 0


@pytest.mark.parametrize("field", ["capacity", "price_cents", "hours", "days"])
def test_integers_beyond_64_bits_are_refused(secretariat: TestClient, field: str) -> None:
    answer = secretariat.post("/sessions", json=session_payload(**{field: 2**70}))
    assert_problem(answer, 422, "validation_error")


@pytest.mark.parametrize("path", ["/sessions/99999999999999999999999999", "/users/99999999999999999999999"])
def test_huge_ids_in_paths_never_reach_the_database(secretariat: TestClient, path: str) -> None:
    answer = secretariat.get(path)
    assert answer.status_code in (404, 422)
    assert answer.headers["content-type"].startswith(PROBLEM)


def test_query_strings_longer_than_their_maximum_are_refused(anonymous: TestClient) -> None:
    assert_problem(anonymous.get("/sessions", params={"q": "x" * 201}), 422, "validation_error")
    assert_problem(anonymous.get("/sessions", params={"limit": 2**70}), 422, "validation_error")


def test_body_over_the_limit_is_refused_before_reading(secretariat: TestClient, settings) -> None:
    big = b"x" * (settings.max_body_bytes + 1)
    answer = secretariat.post("/sessions", content=big, headers={"content-type": "application/json"})
    assert_problem(answer, 413, "payload_too_large")


def test_chunked_body_over_the_limit_is_refused(secretariat: TestClient, settings) -> None:
    def chunks():
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    answer = secretariat.post("/sessions", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(answer, 413, "payload_too_large")


def test_unexpected_errors_are_problem_500_with_request_id(
    app: FastAPI, anonymous: TestClient, caplog
) -> None:
    def explode() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/api/v1/explode", explode)
    answer = anonymous.get("/explode", headers={"X-Request-ID": "trace-me-42"})
    body = assert_problem(answer, 500, "internal_error")
    assert "boom" not in body["detail"]
    assert answer.headers["x-request-id"] == "trace-me-42"
    failures = [r for r in caplog.records if r.exc_info and getattr(r, "request_id", None) == "trace-me-42"]
    assert failures, "the traceback is logged with the request id"
