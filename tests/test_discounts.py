"""Discounts: the public sees the active ones valid today; the secretariat manages them."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.clock import FixedClock
from tests.factories import create_discount, create_session, discount_payload, published_session
from tests.problems import assert_problem, assert_unauthorized


def _codes(answer) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["code"] for item in answer.json()["items"]]


# Creation


def test_the_secretariat_creates_a_percent_discount(secretariat: TestClient) -> None:
    answer = secretariat.post("/discounts", json=discount_payload(code="alumni", percent="12.5"))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert answer.headers["location"] == f"/api/v1/discounts/{body['id']}"
    assert body["code"] == "ALUMNI"  # stored upper case
    assert body["percent"] == "12.5" and body["amount_cents"] is None
    assert body["active"] is True and body["session_id"] is None and body["requires_proof"] is True
    assert secretariat.get(f"/discounts/{body['id']}").json() == body


def test_a_whole_percent_reads_without_decimals(secretariat: TestClient) -> None:
    assert create_discount(secretariat, percent="10.000")["percent"] == "10"
    assert create_discount(secretariat, code="FULL", percent="100")["percent"] == "100"


def test_the_secretariat_creates_a_fixed_amount_for_one_session(secretariat: TestClient) -> None:
    session = create_session(secretariat)
    body = create_discount(
        secretariat, code="EARLY", percent=None, amount_cents=15000, session_id=session["id"]
    )
    assert (body["percent"], body["amount_cents"], body["session_id"]) == (None, 15000, session["id"])


@pytest.mark.parametrize(
    "changes",
    [
        {"percent": "10", "amount_cents": 5000},  # both
        {"percent": None},  # neither
        {"percent": None, "amount_cents": -5},
        {"percent": None, "amount_cents": 0},
        {"percent": "0"},
        {"percent": "-3"},
        {"percent": "100.5"},
        {"percent": "150"},
        {"percent": "12.3456"},  # more than three decimals
        {"percent": "dix"},
        {"code": ""},
        {"code": "ÉTÉ"},
        {"code": "two words"},
        {"code": "X" * 41},
        {"label": ""},
        {"label": "L" * 201},
        {"eligibility": "E" * 2001},
        {"label": "nul\u0000byte"},
        {"valid_from": "2027-03-01", "valid_until": "2027-02-01"},
        {"session_id": 0},
        {"session_id": 2**31},
    ],
)
def test_bad_discounts_are_validation_errors(secretariat: TestClient, changes: dict) -> None:
    payload = discount_payload(**changes)
    if "percent" in changes and changes["percent"] is None and "amount_cents" not in changes:
        payload.pop("percent")
    assert_problem(secretariat.post("/discounts", json=payload), 422, "validation_error")
    assert secretariat.get("/discounts").json()["total"] == 0


def test_an_unknown_session_is_a_validation_error(secretariat: TestClient) -> None:
    problem = assert_problem(
        secretariat.post("/discounts", json=discount_payload(session_id=999)), 422, "validation_error"
    )
    assert problem["errors"][0]["loc"] == ["body", "session_id"]


def test_codes_are_unique_whatever_their_case(secretariat: TestClient) -> None:
    create_discount(secretariat, code="ALUMNI")
    assert_problem(
        secretariat.post("/discounts", json=discount_payload(code="alumni")), 409, "discount_code_taken"
    )
    assert secretariat.get("/discounts").json()["total"] == 1


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_only_the_secretariat_creates_discounts(make_user, role: str) -> None:
    assert_problem(make_user(role).post("/discounts", json=discount_payload()), 403, "forbidden")


def test_anonymous_callers_cannot_create_discounts(anonymous: TestClient) -> None:
    assert_unauthorized(anonymous.post("/discounts", json=discount_payload()))


# Public reads


def test_the_public_sees_only_active_discounts_valid_today(
    secretariat: TestClient, anonymous: TestClient, applicant: TestClient
) -> None:
    # The test clock reads 14 January 2027 in Paris.
    create_discount(secretariat, code="ALWAYS")
    create_discount(secretariat, code="NOW", valid_from="2027-01-14", valid_until="2027-01-14")
    create_discount(secretariat, code="LATER", valid_from="2027-01-15")
    create_discount(secretariat, code="OVER", valid_until="2027-01-13")
    create_discount(secretariat, code="OFF", active=False)
    for client in (anonymous, applicant):
        assert _codes(client.get("/discounts")) == ["ALWAYS", "NOW"]
    assert _codes(secretariat.get("/discounts")) == ["ALWAYS", "NOW", "LATER", "OVER", "OFF"]


def test_validity_follows_the_paris_calendar_of_the_clock(
    secretariat: TestClient, anonymous: TestClient, clock: FixedClock
) -> None:
    create_discount(secretariat, code="JANUARY", valid_until="2027-01-31")
    clock.set(datetime(2027, 1, 31, 22, 59, tzinfo=UTC))  # 23:59 in Paris: still 31 January
    assert _codes(anonymous.get("/discounts")) == ["JANUARY"]
    clock.set(datetime(2027, 1, 31, 23, 0, tzinfo=UTC))  # midnight in Paris: 1 February
    assert _codes(anonymous.get("/discounts")) == []


def test_a_session_lists_its_own_discounts_and_those_of_every_session(
    secretariat: TestClient, anonymous: TestClient
) -> None:
    first, second = published_session(secretariat), published_session(secretariat, title="Autre session")
    create_discount(secretariat, code="ALL")
    create_discount(secretariat, code="FIRST", session_id=first["id"])
    create_discount(secretariat, code="SECOND", session_id=second["id"])
    assert _codes(anonymous.get("/discounts", params={"session_id": first["id"]})) == ["ALL", "FIRST"]
    assert _codes(anonymous.get("/discounts", params={"session_id": second["id"]})) == ["ALL", "SECOND"]
    assert _codes(anonymous.get("/discounts")) == ["ALL", "FIRST", "SECOND"]


def test_filtering_on_an_unknown_or_unpublished_session_is_a_validation_error(
    secretariat: TestClient, anonymous: TestClient
) -> None:
    draft = create_session(secretariat)
    assert_problem(anonymous.get("/discounts", params={"session_id": 999}), 422, "validation_error")
    assert_problem(anonymous.get("/discounts", params={"session_id": draft["id"]}), 422, "validation_error")
    assert secretariat.get("/discounts", params={"session_id": draft["id"]}).status_code == 200


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"session_id": "x"}, {"session_id": 2**31}]
)
def test_bad_listing_parameters_are_validation_errors(anonymous: TestClient, params: dict) -> None:
    assert_problem(anonymous.get("/discounts", params=params), 422, "validation_error")


def test_a_code_typed_in_lower_case_is_found(secretariat: TestClient, anonymous: TestClient) -> None:
    create_discount(secretariat, code="ALUMNI")
    create_discount(secretariat, code="ABONNES")
    assert _codes(anonymous.get("/discounts", params={"code": "alumni"})) == ["ALUMNI"]
    assert _codes(anonymous.get("/discounts", params={"code": " Abonnes "})) == ["ABONNES"]
    assert _codes(anonymous.get("/discounts", params={"code": "inconnu"})) == []
    assert_problem(anonymous.get("/discounts", params={"code": "x" * 41}), 422, "validation_error")


def test_the_listing_is_paged(secretariat: TestClient, anonymous: TestClient) -> None:
    for n in range(3):
        create_discount(secretariat, code=f"CODE{n}")
    page = anonymous.get("/discounts", params={"limit": 2, "offset": 1}).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [item["code"] for item in page["items"]] == ["CODE1", "CODE2"]


def test_public_reads_are_cacheable_and_change_their_etag_with_a_write(
    secretariat: TestClient, anonymous: TestClient
) -> None:
    discount = create_discount(secretariat)
    for path in ("/discounts", f"/discounts/{discount['id']}"):
        answer = anonymous.get(path, headers={"Origin": "https://partner.example"})
        etag = answer.headers["etag"]
        assert etag.startswith('"') and answer.headers["cache-control"] == "public, no-cache"
        assert answer.headers["access-control-allow-origin"] == "*"
        revalidated = anonymous.get(path, headers={"If-None-Match": etag})
        assert revalidated.status_code == 304 and revalidated.content == b""
        assert revalidated.headers["etag"] == etag
        secretariat.patch(f"/discounts/{discount['id']}", json={"label": f"Changé pour {path}"})
        assert anonymous.get(path, headers={"If-None-Match": etag}).status_code == 200


def test_the_secretariat_listing_is_private(secretariat: TestClient) -> None:
    assert secretariat.get("/discounts").headers["cache-control"] == "private, no-cache"


def test_an_inactive_discount_is_found_by_the_secretariat_only(
    secretariat: TestClient, anonymous: TestClient, applicant: TestClient, trainer: TestClient
) -> None:
    discount = create_discount(secretariat, active=False)
    for client in (anonymous, applicant, trainer):
        assert_problem(client.get(f"/discounts/{discount['id']}"), 404, "not_found")
    assert secretariat.get(f"/discounts/{discount['id']}").json()["active"] is False


def test_an_active_discount_is_public(
    secretariat: TestClient, anonymous: TestClient, trainer: TestClient
) -> None:
    discount = create_discount(secretariat)
    assert anonymous.get(f"/discounts/{discount['id']}").json()["code"] == "ALUMNI"
    assert trainer.get(f"/discounts/{discount['id']}").json()["code"] == "ALUMNI"


@pytest.mark.parametrize("discount_id", ["999", "0", "x", str(2**31)])
def test_unknown_or_malformed_ids_are_refused(anonymous: TestClient, discount_id: str) -> None:
    answer = anonymous.get(f"/discounts/{discount_id}")
    assert answer.status_code in (404, 422)
    assert_problem(
        answer, answer.status_code, "not_found" if answer.status_code == 404 else "validation_error"
    )


def test_a_bad_credential_is_refused_even_on_public_reads(anonymous: TestClient) -> None:
    assert_unauthorized(anonymous.get("/discounts", headers={"Authorization": "Bearer nonsense"}))


# Changes


def test_the_secretariat_changes_a_discount(secretariat: TestClient) -> None:
    discount = create_discount(secretariat)
    answer = secretariat.patch(
        f"/discounts/{discount['id']}",
        json={"label": "Abonnés", "valid_until": "2027-02-18", "code": "abonnes"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["label"], body["valid_until"], body["code"], body["percent"]) == (
        "Abonnés",
        "2027-02-18",
        "ABONNES",
        "10",
    )


def test_switching_from_percent_to_amount_clears_the_percent(secretariat: TestClient) -> None:
    discount = create_discount(secretariat)
    path = f"/discounts/{discount['id']}"
    assert_problem(secretariat.patch(path, json={"amount_cents": 5000}), 422, "validation_error")
    assert_problem(secretariat.patch(path, json={"percent": None}), 422, "validation_error")
    body = secretariat.patch(path, json={"amount_cents": 5000, "percent": None}).json()
    assert (body["percent"], body["amount_cents"]) == (None, 5000)


@pytest.mark.parametrize(
    "changes",
    [
        {"percent": "101"},
        {"label": None},
        {"code": None},
        {"active": None},
        {"session_id": 999},
        {"valid_from": "2027-03-01", "valid_until": "2027-02-01"},
        {"label": "L" * 201},
    ],
)
def test_bad_changes_are_validation_errors(secretariat: TestClient, changes: dict) -> None:
    discount = create_discount(secretariat)
    assert_problem(secretariat.patch(f"/discounts/{discount['id']}", json=changes), 422, "validation_error")
    assert secretariat.get(f"/discounts/{discount['id']}").json() == discount


def test_renaming_to_a_used_code_is_a_conflict(secretariat: TestClient) -> None:
    create_discount(secretariat, code="ALUMNI")
    other = create_discount(secretariat, code="ABONNES")
    path = f"/discounts/{other['id']}"
    assert_problem(secretariat.patch(path, json={"code": "Alumni"}), 409, "discount_code_taken")
    assert secretariat.patch(path, json={"code": "abonnes"}).status_code == 200  # its own code


def test_deleting_deactivates(secretariat: TestClient, anonymous: TestClient) -> None:
    discount = create_discount(secretariat)
    answer = secretariat.delete(f"/discounts/{discount['id']}")
    assert answer.status_code == 204 and answer.content == b""
    assert_problem(anonymous.get(f"/discounts/{discount['id']}"), 404, "not_found")
    assert _codes(anonymous.get("/discounts")) == []
    assert secretariat.get(f"/discounts/{discount['id']}").json()["active"] is False
    # Deactivated, not deleted: it comes back when reactivated, and its code stays taken.
    assert_problem(secretariat.post("/discounts", json=discount_payload()), 409, "discount_code_taken")
    assert secretariat.patch(f"/discounts/{discount['id']}", json={"active": True}).json()["active"] is True


@pytest.mark.parametrize("role", ["applicant", "trainer"])
def test_only_the_secretariat_changes_or_deletes_discounts(
    secretariat: TestClient, make_user, role: str
) -> None:
    client = make_user(role)
    visible = create_discount(secretariat)
    hidden = create_discount(secretariat, code="HIDDEN", active=False)
    # A discount they may read answers 403; one they may not see answers 404, as an unknown one does.
    assert_problem(client.patch(f"/discounts/{visible['id']}", json={"label": "x"}), 403, "forbidden")
    assert_problem(client.delete(f"/discounts/{visible['id']}"), 403, "forbidden")
    for discount_id in (hidden["id"], 999):
        assert_problem(client.patch(f"/discounts/{discount_id}", json={"label": "x"}), 404, "not_found")
        assert_problem(client.delete(f"/discounts/{discount_id}"), 404, "not_found")
    assert secretariat.get(f"/discounts/{visible['id']}").json() == visible


def test_anonymous_callers_cannot_change_or_delete_discounts(
    secretariat: TestClient, anonymous: TestClient
) -> None:
    discount = create_discount(secretariat)
    assert_unauthorized(anonymous.patch(f"/discounts/{discount['id']}", json={"label": "x"}))
    assert_unauthorized(anonymous.delete(f"/discounts/{discount['id']}"))


def test_the_secretariat_gets_404_for_an_unknown_discount(secretariat: TestClient) -> None:
    assert_problem(secretariat.patch("/discounts/999", json={"label": "x"}), 404, "not_found")
    assert_problem(secretariat.delete("/discounts/999"), 404, "not_found")
