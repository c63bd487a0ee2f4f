"""Quotes: computed from the session's price and an approved discount, numbered when issued, frozen
from then on, accepted or declined while valid, and printed on one A4 page."""

import io
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader

from api.clock import FixedClock
from tests.conftest import PASSWORD
from tests.factories import create_discount, insert_application, published_session
from tests.problems import assert_problem, assert_unauthorized

VAT_REFERENCE = "article 261-4-4° a du CGI"
BROCHURE_SESSION = {
    "title": "Les ateliers des cultures numériques #1",
    "start_date": "2016-03-07",
    "end_date": "2016-03-12",
    "application_deadline": "2016-02-18",
    "price_cents": 200_000,
    "hours": 45,
    "city": "Paris",
    "price_excludes": ["transport", "repas", "hébergement"],
}


@pytest.fixture
def session(secretariat: TestClient) -> dict[str, Any]:
    return published_session(secretariat, **BROCHURE_SESSION)


def _application(app: FastAPI, session: dict[str, Any], owner: TestClient, **fields: Any) -> int:
    return insert_application(app, session_id=session["id"], applicant_id=owner.user["id"], **fields)


def _request(client: TestClient, application_id: int) -> dict[str, Any]:
    answer = client.post(f"/applications/{application_id}/quotes")
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _issue(client: TestClient, quote_id: int, **body: Any) -> dict[str, Any]:
    answer = client.post(f"/quotes/{quote_id}/issue", json=body or None)
    assert answer.status_code == 200, answer.text
    issued: dict[str, Any] = answer.json()
    return issued


def _approved_discount(secretariat: TestClient, **overrides: Any) -> dict[str, Any]:
    """What an application carries once the secretariat has approved its discount."""
    discount = create_discount(secretariat, **overrides)
    return {"discount_id": discount["id"], "discount_status": "approved", "discount_code": discount["code"]}


def _move_clock(clock: FixedClock, at: datetime, *clients: TestClient) -> None:
    """Set the service's clock, and log the clients in again: their access tokens have expired."""
    clock.set(at)
    for client in clients:
        answer = client.post("/auth/token", data={"username": client.user["email"], "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"


def _half_up_cents(amount_cents: int, percent: str) -> int:
    """Percent of an amount, rounded half up, computed with fractions rather than Decimal quantize."""
    exact = Fraction(amount_cents) * Fraction(Decimal(percent)) / 100
    return int(exact + Fraction(1, 2)) if exact >= 0 else -int(-exact + Fraction(1, 2))


# Requesting a quote


def test_the_owner_requests_a_draft_priced_from_the_session(
    app: FastAPI, session: dict, applicant: TestClient
) -> None:
    application_id = _application(app, session, applicant)
    answer = applicant.post(f"/applications/{application_id}/quotes")
    assert answer.status_code == 201, answer.text
    quote = answer.json()
    assert answer.headers["location"] == f"/api/v1/quotes/{quote['id']}"
    assert quote["status"] == "draft" and quote["number"] is None
    assert (quote["application_id"], quote["session_id"]) == (application_id, session["id"])
    assert quote["lines"] == [
        {
            "label": "Les ateliers des cultures numériques #1 — du 7 au 12 mars 2016, 6 jours, 45 heures",
            "quantity": 1,
            "unit_price_cents": 200_000,
            "amount_cents": 200_000,
        }
    ]
    assert (quote["subtotal_cents"], quote["discount_cents"], quote["total_cents"]) == (200_000, 0, 200_000)
    assert quote["currency"] == "EUR" and quote["vat_rate"] == "0"
    assert VAT_REFERENCE in quote["vat_note"] and "TVA non applicable" in quote["vat_note"]
    assert quote["notes"] == ["Le prix ne comprend pas : transport, repas, hébergement."]
    # Without billing details, the applicant is billed.
    assert quote["billed_to"] == {
        "name": "Camille Candidate",
        "organisation": "",
        "address": "",
        "email": applicant.user["email"],
    }
    assert quote["issued_at"] is None and quote["valid_until"] is None and quote["accepted_at"] is None
    assert applicant.get(f"/quotes/{quote['id']}").json() == quote


def test_the_application_billing_details_are_billed(
    app: FastAPI, session: dict, applicant: TestClient
) -> None:
    application_id = _application(
        app,
        session,
        applicant,
        billing_name="Service formation",
        billing_organisation="Ville de Grenoble",
        billing_address="11, boulevard Jean Pain, 38000 Grenoble",
        billing_email="formation@grenoble.example",
    )
    assert _request(applicant, application_id)["billed_to"] == {
        "name": "Service formation",
        "organisation": "Ville de Grenoble",
        "address": "11, boulevard Jean Pain, 38000 Grenoble",
        "email": "formation@grenoble.example",
    }


def test_an_approved_percent_discount_makes_a_negative_line(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient
) -> None:
    application_id = _application(app, session, applicant, **_approved_discount(secretariat))
    quote = _request(applicant, application_id)
    assert len(quote["lines"]) == 2
    assert quote["lines"][1] == {
        "label": "Réduction « Anciens stagiaires » (ALUMNI) : 10 %",
        "quantity": 1,
        "unit_price_cents": -20_000,
        "amount_cents": -20_000,
    }
    assert (quote["subtotal_cents"], quote["discount_cents"], quote["total_cents"]) == (
        200_000,
        20_000,
        180_000,
    )
    assert sum(line["amount_cents"] for line in quote["lines"]) == quote["total_cents"]


@pytest.mark.parametrize("discount_status", ["claimed", "refused", "none"])
def test_a_discount_that_is_not_approved_does_not_reach_the_quote(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient, discount_status: str
) -> None:
    fields = {**_approved_discount(secretariat), "discount_status": discount_status}
    quote = _request(applicant, _application(app, session, applicant, **fields))
    assert len(quote["lines"]) == 1
    assert (quote["discount_cents"], quote["total_cents"]) == (0, 200_000)


@pytest.mark.parametrize(
    ("price_cents", "percent", "expected_discount"),
    [
        (199_999, "12.5", 25_000),  # 24 999.875 -> 25 000
        (200_000, "10", 20_000),
        (100_001, "33.333", None),
        (99_999, "66.667", None),
        (12_345, "0.005", 1),  # 0.61725 -> 1
        (100, "0.5", 1),  # exactly half a cent: half up
        (300, "0.5", 2),  # 1.5 -> 2
        (1, "50", 1),  # 0.5 -> 1
        (123_457, "100", 123_457),
        (0, "10", 0),
    ],
)
def test_percent_discounts_round_half_up_to_the_cent(
    app: FastAPI,
    secretariat: TestClient,
    applicant: TestClient,
    price_cents: int,
    percent: str,
    expected_discount: int | None,
) -> None:
    session = published_session(secretariat, price_cents=price_cents)
    fields = _approved_discount(secretariat, percent=percent)
    quote = _request(applicant, _application(app, session, applicant, **fields))
    independent = _half_up_cents(price_cents, percent)
    if expected_discount is not None:
        assert independent == expected_discount
    assert quote["discount_cents"] == independent
    assert quote["total_cents"] == price_cents - independent
    assert quote["lines"][1]["amount_cents"] == -independent


@pytest.mark.parametrize(
    ("amount_cents", "expected"), [(15_000, 15_000), (200_000, 200_000), (350_000, 200_000)]
)
def test_amount_discounts_are_capped_at_the_subtotal(
    app: FastAPI,
    session: dict,
    applicant: TestClient,
    secretariat: TestClient,
    amount_cents: int,
    expected: int,
) -> None:
    fields = _approved_discount(secretariat, percent=None, amount_cents=amount_cents, code="FIXE")
    quote = _request(applicant, _application(app, session, applicant, **fields))
    assert (quote["discount_cents"], quote["total_cents"]) == (expected, 200_000 - expected)
    assert quote["lines"][1]["amount_cents"] == -expected
    assert quote["lines"][1]["label"].endswith("€")


def test_the_secretariat_requests_a_quote_for_any_live_application(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient
) -> None:
    for status in ("submitted", "accepted", "waitlisted"):
        other = published_session(secretariat, title=f"Session {status}")
        quote = _request(secretariat, _application(app, other, applicant, status=status))
        assert quote["status"] == "draft"
    assert applicant.get("/quotes").json()["total"] == 3


@pytest.mark.parametrize("status", ["withdrawn", "rejected"])
def test_no_quote_for_an_application_that_is_not_live(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient, status: str
) -> None:
    application_id = _application(app, session, applicant, status=status)
    for client in (applicant, secretariat):
        assert_problem(client.post(f"/applications/{application_id}/quotes"), 409, "invalid_transition")
    assert secretariat.get("/quotes").json()["total"] == 0


def test_requesting_a_quote_in_a_cancelled_session_is_session_not_open(
    app: FastAPI, applicant: TestClient, secretariat: TestClient
) -> None:
    upcoming = published_session(secretariat)
    application_id = _application(app, upcoming, applicant, status="accepted")
    assert secretariat.post(f"/sessions/{upcoming['id']}/cancel").status_code == 200
    for client in (applicant, secretariat):
        assert_problem(client.post(f"/applications/{application_id}/quotes"), 409, "session_not_open")
    assert secretariat.get("/quotes").json()["total"] == 0


def test_others_cannot_request_a_quote_for_an_application(
    app: FastAPI,
    session: dict,
    applicant: TestClient,
    make_user,
    anonymous: TestClient,
    secretariat: TestClient,
) -> None:
    application_id = _application(app, session, applicant)
    for client in (make_user("applicant"), make_user("trainer")):
        assert_problem(client.post(f"/applications/{application_id}/quotes"), 404, "not_found")
    assert_unauthorized(anonymous.post(f"/applications/{application_id}/quotes"))
    assert_problem(secretariat.post("/applications/999/quotes"), 404, "not_found")
    assert_problem(secretariat.post("/applications/0/quotes"), 422, "validation_error")
    assert secretariat.get("/quotes").json()["total"] == 0


# Editing a draft


BILLED = {
    "name": "Camille Candidate",
    "organisation": "Musée d’exemple",
    "address": "2, place du Musée\n38000 Grenoble",
    "email": "compta@musee.example",
}


def test_the_owner_changes_a_draft_billed_party(app: FastAPI, session: dict, applicant: TestClient) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    answer = applicant.patch(f"/quotes/{quote['id']}", json={"billed_to": BILLED})
    assert answer.status_code == 200, answer.text
    assert answer.json()["billed_to"] == BILLED and answer.json()["notes"] == quote["notes"]
    assert answer.json()["total_cents"] == quote["total_cents"]
    assert applicant.get(f"/quotes/{quote['id']}").json() == answer.json()


def test_the_secretariat_writes_a_drafts_notes_and_billed_party(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    notes = ["Bon de commande n° 118 à rappeler sur la facture."]
    answer = secretariat.patch(f"/quotes/{quote['id']}", json={"billed_to": BILLED, "notes": notes})
    assert answer.status_code == 200, answer.text
    assert answer.json()["billed_to"] == BILLED and answer.json()["notes"] == notes
    assert applicant.get(f"/quotes/{quote['id']}").json() == answer.json()


@pytest.mark.parametrize(
    "body",
    [
        {"notes": ["Remise exceptionnelle de 100 % accordée par la direction. Montant dû : 0 €"]},
        {"notes": []},
        {"billed_to": BILLED, "notes": ["Montant dû : 0 €"]},
    ],
)
def test_only_the_secretariat_writes_a_quotes_notes(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient, body: dict
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    assert_problem(applicant.patch(f"/quotes/{quote['id']}", json=body), 403, "forbidden")
    assert applicant.get(f"/quotes/{quote['id']}").json() == quote
    # What the owner could not write is not printed once the quote is issued.
    _issue(secretariat, quote["id"])
    _pages, text = _pdf_text(applicant.get(f"/quotes/{quote['id']}/pdf"))
    assert "Montant dû" not in text and "Camille Candidate" in text


@pytest.mark.parametrize("name", ["", "   ", "\t\n ", None])
def test_a_billed_party_without_a_name_is_a_validation_error(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient, name: str | None
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    billed = {k: v for k, v in BILLED.items() if k != "name"} | ({} if name is None else {"name": name})
    for client in (applicant, secretariat):
        answer = client.patch(f"/quotes/{quote['id']}", json={"billed_to": billed})
        assert_problem(answer, 422, "validation_error")
    assert applicant.get(f"/quotes/{quote['id']}").json() == quote


def test_a_billed_name_is_stored_without_its_surrounding_spaces(
    app: FastAPI, session: dict, applicant: TestClient
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    answer = applicant.patch(f"/quotes/{quote['id']}", json={"billed_to": {"name": "  Musée d’exemple "}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["billed_to"]["name"] == "Musée d’exemple"


@pytest.mark.parametrize(
    "body",
    [
        {"billed_to": {"email": "pas une adresse"}},
        {"billed_to": {"name": "N" * 201}},
        {"billed_to": {"address": "A" * 501}},
        {"billed_to": None},
        {"notes": None},
        {"notes": ["N" * 501]},
        {"notes": [""]},
        {"notes": ["x"] * 21},
        {"notes": ["nul\u0000"]},
    ],
)
def test_bad_draft_changes_are_validation_errors(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient, body: dict
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    assert_problem(secretariat.patch(f"/quotes/{quote['id']}", json=body), 422, "validation_error")
    assert applicant.get(f"/quotes/{quote['id']}").json() == quote


def test_others_cannot_edit_a_draft(
    app: FastAPI,
    session: dict,
    applicant: TestClient,
    make_user,
    anonymous: TestClient,
    secretariat: TestClient,
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    for client in (make_user("applicant"), make_user("trainer")):
        assert_problem(client.patch(f"/quotes/{quote['id']}", json={"notes": []}), 404, "not_found")
    assert_unauthorized(anonymous.patch(f"/quotes/{quote['id']}", json={"notes": []}))
    assert secretariat.patch(f"/quotes/{quote['id']}", json={"notes": []}).json()["notes"] == []


# Issuing


def test_the_secretariat_issues_a_numbered_quote_valid_thirty_days(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient, clock: FixedClock
) -> None:
    first = _request(applicant, _application(app, session, applicant))
    issued = _issue(secretariat, first["id"])
    assert issued["status"] == "issued" and issued["number"] == "DEV-2027-0001"
    assert issued["issued_at"] == "2027-01-14T09:00:00Z"
    assert issued["valid_until"] == "2027-02-13"
    other = published_session(secretariat, title="Autre")
    second = _request(applicant, _application(app, other, applicant))
    assert _issue(secretariat, second["id"], valid_until="2027-03-31")["number"] == "DEV-2027-0002"
    assert applicant.get(f"/quotes/{second['id']}").json()["valid_until"] == "2027-03-31"


def test_the_number_follows_the_paris_calendar_year(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient, clock: FixedClock
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    _move_clock(clock, datetime(2027, 12, 31, 23, 30, tzinfo=UTC), secretariat)  # 1 January 2028 in Paris
    issued = _issue(secretariat, quote["id"])
    assert issued["number"] == "DEV-2028-0001"
    assert issued["valid_until"] == "2028-01-31"


@pytest.mark.parametrize(
    ("discount", "discount_status", "expected_off"),
    [
        ({}, "approved", 21_000),
        ({"percent": None, "amount_cents": 15_000, "code": "FIXE"}, "approved", 15_000),
        ({}, "claimed", 0),
        (None, "none", 0),
    ],
)
def test_an_issue_prices_at_the_discount_and_answers_what_the_quote_then_reads(
    app: FastAPI,
    session: dict,
    applicant: TestClient,
    secretariat: TestClient,
    discount: dict[str, Any] | None,
    discount_status: str,
    expected_off: int,
) -> None:
    fields = {} if discount is None else _approved_discount(secretariat, **discount)
    fields["discount_status"] = discount_status
    quote = _request(applicant, _application(app, session, applicant, **fields))
    # The price moves after the draft: the issue prices again, with the application's discount.
    assert secretariat.patch(f"/sessions/{session['id']}", json={"price_cents": 210_000}).status_code == 200
    issued = _issue(secretariat, quote["id"])
    assert (issued["subtotal_cents"], issued["discount_cents"], issued["total_cents"]) == (
        210_000,
        expected_off,
        210_000 - expected_off,
    )
    lines = [210_000, -expected_off] if expected_off else [210_000]
    assert [line["amount_cents"] for line in issued["lines"]] == lines
    assert issued == secretariat.get(f"/quotes/{quote['id']}").json()
    assert issued == applicant.get(f"/quotes/{quote['id']}").json()


def test_a_quote_is_issued_once(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    _issue(secretariat, quote["id"])
    assert_problem(secretariat.post(f"/quotes/{quote['id']}/issue"), 409, "invalid_transition")
    assert secretariat.get(f"/quotes/{quote['id']}").json()["number"] == "DEV-2027-0001"


def _withdraw(owner: TestClient, application_id: int) -> None:
    answer = owner.post(f"/applications/{application_id}/withdraw")
    assert answer.status_code == 200, answer.text


def _issues_next_number(app: FastAPI, secretariat: TestClient, applicant: TestClient, number: str) -> None:
    """A draft of another live application is issued with `number`: no number was consumed before."""
    upcoming = published_session(secretariat, title="Une autre session")
    draft = _request(secretariat, _application(app, upcoming, applicant))
    assert _issue(secretariat, draft["id"])["number"] == number


def _end_by_withdrawal(applicant: TestClient, secretariat: TestClient, application_id: int) -> None:
    _withdraw(applicant, application_id)


def _end_by_rejection(applicant: TestClient, secretariat: TestClient, application_id: int) -> None:
    decided = secretariat.post(f"/applications/{application_id}/decision", json={"decision": "rejected"})
    assert decided.status_code == 200, decided.text


@pytest.mark.parametrize("end", [_end_by_withdrawal, _end_by_rejection], ids=["withdrawn", "rejected"])
def test_issuing_a_quote_of_an_application_that_is_over_is_invalid_transition_and_takes_no_number(
    app: FastAPI, applicant: TestClient, secretariat: TestClient, end: Callable[..., None]
) -> None:
    upcoming = published_session(secretariat)
    application_id = _application(app, upcoming, applicant)
    draft = _request(applicant, application_id)
    end(applicant, secretariat, application_id)
    assert_problem(secretariat.post(f"/quotes/{draft['id']}/issue"), 409, "invalid_transition")
    assert secretariat.get(f"/quotes/{draft['id']}").json() == draft
    _issues_next_number(app, secretariat, applicant, "DEV-2027-0001")


def test_accepting_a_quote_of_a_withdrawn_application_is_invalid_transition(
    app: FastAPI, applicant: TestClient, secretariat: TestClient
) -> None:
    upcoming = published_session(secretariat)
    application_id = _application(app, upcoming, applicant, status="accepted")
    issued = _issue(secretariat, _request(applicant, application_id)["id"])
    _withdraw(applicant, application_id)
    for client in (applicant, secretariat):
        assert_problem(client.post(f"/quotes/{issued['id']}/accept"), 409, "invalid_transition")
    assert applicant.get(f"/quotes/{issued['id']}").json() == issued
    # The payer may still say no to it.
    assert applicant.post(f"/quotes/{issued['id']}/decline").json()["status"] == "declined"


def test_issuing_or_accepting_a_quote_of_a_cancelled_session_is_session_not_open(
    app: FastAPI, applicant: TestClient, secretariat: TestClient
) -> None:
    upcoming = published_session(secretariat)
    application_id = _application(app, upcoming, applicant, status="accepted")
    draft = _request(applicant, application_id)
    issued = _issue(secretariat, _request(applicant, application_id)["id"])
    assert secretariat.post(f"/sessions/{upcoming['id']}/cancel").status_code == 200
    assert_problem(secretariat.post(f"/quotes/{draft['id']}/issue"), 409, "session_not_open")
    for client in (applicant, secretariat):
        assert_problem(client.post(f"/quotes/{issued['id']}/accept"), 409, "session_not_open")
    assert secretariat.get(f"/quotes/{draft['id']}").json() == draft
    assert applicant.get(f"/quotes/{issued['id']}").json() == issued
    _issues_next_number(app, secretariat, applicant, "DEV-2027-0002")


def test_quotes_of_a_live_application_are_still_issued_and_accepted(
    app: FastAPI, applicant: TestClient, secretariat: TestClient
) -> None:
    for status in ("submitted", "waitlisted", "accepted"):
        upcoming = published_session(secretariat, title=f"Session {status}")
        application_id = _application(app, upcoming, applicant, status=status)
        issued = _issue(secretariat, _request(applicant, application_id)["id"])
        accepted = applicant.post(f"/quotes/{issued['id']}/accept")
        assert accepted.status_code == 200 and accepted.json()["status"] == "accepted", accepted.text


@pytest.mark.parametrize("valid_until", ["2027-01-13", "demain", "2027-02-30"])
def test_a_validity_date_before_the_issue_date_is_refused(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient, valid_until: str
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    answer = secretariat.post(f"/quotes/{quote['id']}/issue", json={"valid_until": valid_until})
    assert_problem(answer, 422, "validation_error")
    assert secretariat.get(f"/quotes/{quote['id']}").json()["status"] == "draft"
    # The refused issue took no number.
    assert _issue(secretariat, quote["id"])["number"] == "DEV-2027-0001"


def test_only_the_secretariat_issues(
    app: FastAPI,
    session: dict,
    applicant: TestClient,
    make_user,
    anonymous: TestClient,
    secretariat: TestClient,
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    assert_problem(applicant.post(f"/quotes/{quote['id']}/issue"), 403, "forbidden")
    for client in (make_user("applicant"), make_user("trainer")):
        assert_problem(client.post(f"/quotes/{quote['id']}/issue"), 404, "not_found")
    assert_unauthorized(anonymous.post(f"/quotes/{quote['id']}/issue"))
    assert_problem(secretariat.post("/quotes/999/issue"), 404, "not_found")
    assert secretariat.get(f"/quotes/{quote['id']}").json()["status"] == "draft"


def test_an_issued_quote_is_frozen(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient
) -> None:
    fields = _approved_discount(secretariat)
    quote = _request(applicant, _application(app, session, applicant, **fields))
    issued = _issue(secretariat, quote["id"])
    for client in (applicant, secretariat):
        answer = client.patch(f"/quotes/{quote['id']}", json={"notes": ["autre"]})
        assert_problem(answer, 409, "quote_frozen")
    # Whatever happens later to the session's price or to the discount, the quote keeps its amounts.
    assert secretariat.patch(f"/sessions/{session['id']}", json={"price_cents": 250_000}).status_code == 200
    assert secretariat.patch(f"/discounts/{fields['discount_id']}", json={"percent": "50"}).status_code == 200
    assert secretariat.delete(f"/discounts/{fields['discount_id']}").status_code == 204
    assert applicant.get(f"/quotes/{quote['id']}").json() == issued
    assert (issued["subtotal_cents"], issued["discount_cents"], issued["total_cents"]) == (
        200_000,
        20_000,
        180_000,
    )
    # A new quote for the same application takes the new price.
    assert _request(applicant, quote["application_id"])["total_cents"] == 125_000


def test_a_draft_follows_the_price_until_it_is_issued(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    assert secretariat.patch(f"/sessions/{session['id']}", json={"price_cents": 210_000}).status_code == 200
    issued = _issue(secretariat, quote["id"])
    assert (issued["subtotal_cents"], issued["total_cents"]) == (210_000, 210_000)
    assert issued["lines"][0]["unit_price_cents"] == 210_000


# Accepting, declining, expiring, cancelling


def test_the_owner_accepts_an_issued_quote(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient, clock: FixedClock
) -> None:
    quote = _issue(secretariat, _request(applicant, _application(app, session, applicant))["id"])
    _move_clock(
        clock, datetime(2027, 2, 13, 22, 0, tzinfo=UTC), applicant
    )  # 23:00 in Paris, the last valid day
    answer = applicant.post(f"/quotes/{quote['id']}/accept")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "accepted"
    assert answer.json()["accepted_at"] == "2027-02-13T22:00:00Z"
    for action in ("accept", "decline"):
        assert_problem(applicant.post(f"/quotes/{quote['id']}/{action}"), 409, "invalid_transition")
    assert_problem(applicant.patch(f"/quotes/{quote['id']}", json={"notes": []}), 409, "quote_frozen")


def test_the_secretariat_declines_for_the_payer(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient
) -> None:
    quote = _issue(secretariat, _request(applicant, _application(app, session, applicant))["id"])
    answer = secretariat.post(f"/quotes/{quote['id']}/decline")
    assert answer.status_code == 200 and answer.json()["status"] == "declined"
    assert answer.json()["declined_at"] == "2027-01-14T09:00:00Z"
    assert_problem(applicant.post(f"/quotes/{quote['id']}/accept"), 409, "invalid_transition")


def test_a_draft_cannot_be_accepted_or_declined(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    for client in (applicant, secretariat):
        for action in ("accept", "decline"):
            assert_problem(client.post(f"/quotes/{quote['id']}/{action}"), 409, "invalid_transition")


def test_a_quote_past_its_validity_date_is_expired(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient, clock: FixedClock
) -> None:
    quote = _issue(secretariat, _request(applicant, _application(app, session, applicant))["id"])
    fresh = _issue(secretariat, _request(secretariat, _application(app, session, secretariat))["id"])
    assert [q["id"] for q in secretariat.get("/quotes", params={"status": "expired"}).json()["items"]] == []
    assert fresh["valid_until"] == quote["valid_until"] == "2027-02-13"
    _move_clock(
        clock, datetime(2027, 2, 13, 23, 0, tzinfo=UTC), applicant, secretariat
    )  # 14 February in Paris
    assert applicant.get(f"/quotes/{quote['id']}").json()["status"] == "expired"
    for client in (applicant, secretariat):
        for action in ("accept", "decline"):
            assert_problem(client.post(f"/quotes/{quote['id']}/{action}"), 409, "quote_expired")
    assert_problem(secretariat.post(f"/quotes/{quote['id']}/cancel"), 409, "invalid_transition")
    expired = secretariat.get("/quotes", params={"status": "expired"}).json()
    assert [q["id"] for q in expired["items"]] == [quote["id"], fresh["id"]] and expired["total"] == 2
    assert applicant.get("/quotes", params={"status": "expired"}).json()["total"] == 1
    assert secretariat.get("/quotes", params={"status": "issued"}).json()["total"] == 0
    assert secretariat.get("/quotes", params={"status": "accepted"}).json()["total"] == 0


def test_issued_quotes_still_valid_are_not_expired(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient, clock: FixedClock
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    _issue(secretariat, quote["id"], valid_until="2027-06-30")
    _move_clock(clock, datetime(2027, 3, 1, 9, 0, tzinfo=UTC), secretariat)
    assert [q["status"] for q in secretariat.get("/quotes", params={"status": "issued"}).json()["items"]] == [
        "issued"
    ]
    assert secretariat.get("/quotes", params={"status": "expired"}).json()["total"] == 0


def test_others_cannot_accept_or_decline(
    app: FastAPI,
    session: dict,
    applicant: TestClient,
    make_user,
    anonymous: TestClient,
    secretariat: TestClient,
) -> None:
    quote = _issue(secretariat, _request(applicant, _application(app, session, applicant))["id"])
    for client in (make_user("applicant"), make_user("trainer")):
        for action in ("accept", "decline"):
            assert_problem(client.post(f"/quotes/{quote['id']}/{action}"), 404, "not_found")
    for action in ("accept", "decline", "cancel"):
        assert_unauthorized(anonymous.post(f"/quotes/{quote['id']}/{action}"))
    assert applicant.get(f"/quotes/{quote['id']}").json()["status"] == "issued"


def test_the_secretariat_cancels_a_draft_or_an_issued_quote(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient
) -> None:
    draft = _request(applicant, _application(app, session, applicant))
    other = published_session(secretariat, title="Autre")
    issued = _issue(secretariat, _request(applicant, _application(app, other, applicant))["id"])
    for quote in (draft, issued):
        answer = secretariat.post(f"/quotes/{quote['id']}/cancel")
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "cancelled" and answer.json()["cancelled_at"] is not None
        assert_problem(secretariat.post(f"/quotes/{quote['id']}/cancel"), 409, "invalid_transition")
        assert_problem(applicant.post(f"/quotes/{quote['id']}/accept"), 409, "invalid_transition")
    assert_problem(secretariat.post(f"/quotes/{draft['id']}/issue"), 409, "invalid_transition")
    # A cancelled issued quote keeps its number; the next one does not reuse it.
    assert secretariat.get(f"/quotes/{issued['id']}").json()["number"] == "DEV-2027-0001"
    third = _request(applicant, _application(app, published_session(secretariat, title="Trois"), applicant))
    assert _issue(secretariat, third["id"])["number"] == "DEV-2027-0002"


def test_an_accepted_quote_cannot_be_cancelled(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient
) -> None:
    quote = _issue(secretariat, _request(applicant, _application(app, session, applicant))["id"])
    applicant.post(f"/quotes/{quote['id']}/accept")
    assert_problem(secretariat.post(f"/quotes/{quote['id']}/cancel"), 409, "invalid_transition")


def test_only_the_secretariat_cancels(
    app: FastAPI, session: dict, applicant: TestClient, make_user, secretariat: TestClient
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    assert_problem(applicant.post(f"/quotes/{quote['id']}/cancel"), 403, "forbidden")
    for client in (make_user("applicant"), make_user("trainer")):
        assert_problem(client.post(f"/quotes/{quote['id']}/cancel"), 404, "not_found")
    assert secretariat.get(f"/quotes/{quote['id']}").json()["status"] == "draft"


# Reading


def test_applicants_list_their_own_quotes_and_the_secretariat_all(
    app: FastAPI, session: dict, applicant: TestClient, make_user, secretariat: TestClient
) -> None:
    other_applicant = make_user("applicant")
    other_session = published_session(secretariat, title="Autre")
    mine = _request(applicant, _application(app, session, applicant))
    mine_elsewhere = _request(applicant, _application(app, other_session, applicant))
    theirs = _request(other_applicant, _application(app, session, other_applicant))
    _issue(secretariat, mine["id"])

    def ids(client: TestClient, **params: Any) -> list[int]:
        answer = client.get("/quotes", params=params)
        assert answer.status_code == 200, answer.text
        return [q["id"] for q in answer.json()["items"]]

    assert ids(applicant) == [mine["id"], mine_elsewhere["id"]]
    assert ids(other_applicant) == [theirs["id"]]
    assert ids(secretariat) == [mine["id"], mine_elsewhere["id"], theirs["id"]]
    assert ids(secretariat, session_id=session["id"]) == [mine["id"], theirs["id"]]
    assert ids(applicant, session_id=session["id"]) == [mine["id"]]
    assert ids(secretariat, status="draft") == [mine_elsewhere["id"], theirs["id"]]
    assert ids(secretariat, status="issued") == [mine["id"]]
    page = secretariat.get("/quotes", params={"limit": 1, "offset": 1}).json()
    assert (page["total"], page["limit"], page["offset"], [q["id"] for q in page["items"]]) == (
        3,
        1,
        1,
        [mine_elsewhere["id"]],
    )


@pytest.mark.parametrize(
    "params", [{"status": "paid"}, {"limit": 0}, {"limit": 101}, {"offset": -1}, {"session_id": "x"}]
)
def test_bad_listing_parameters_are_validation_errors(secretariat: TestClient, params: dict) -> None:
    assert_problem(secretariat.get("/quotes", params=params), 422, "validation_error")


def test_trainers_see_no_quotes(
    app: FastAPI, session: dict, applicant: TestClient, trainer: TestClient
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    # The listing is refused outright; a quote answers 404 as if it did not exist.
    assert_problem(trainer.get("/quotes"), 403, "forbidden")
    assert_problem(trainer.get(f"/quotes/{quote['id']}"), 404, "not_found")


def test_a_quote_of_someone_else_is_not_found(
    app: FastAPI,
    session: dict,
    applicant: TestClient,
    make_user,
    anonymous: TestClient,
    secretariat: TestClient,
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    assert_problem(make_user("applicant").get(f"/quotes/{quote['id']}"), 404, "not_found")
    assert_unauthorized(anonymous.get(f"/quotes/{quote['id']}"))
    assert_unauthorized(anonymous.get("/quotes"))
    assert secretariat.get(f"/quotes/{quote['id']}").json() == quote
    assert_problem(secretariat.get("/quotes/999"), 404, "not_found")
    assert_problem(secretariat.get(f"/quotes/{2**31}"), 422, "validation_error")


# The document


def _pdf_text(answer) -> tuple[int, str]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(answer.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    # French amounts are written with no-break spaces.
    return len(reader.pages), text.replace("\u00a0", " ").replace("\u202f", " ")


def test_the_pdf_of_an_issued_quote_is_one_page_a_payer_can_sign(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient
) -> None:
    fields = _approved_discount(secretariat)
    quote = _request(
        applicant,
        _application(app, session, applicant, billing_organisation="Musée d’exemple", **fields),
    )
    issued = _issue(secretariat, quote["id"])
    answer = applicant.get(f"/quotes/{quote['id']}/pdf")
    assert answer.headers["content-disposition"] == 'inline; filename="DEV-2027-0001.pdf"'
    pages, text = _pdf_text(answer)
    assert pages == 1
    for expected in (
        "DEVIS",
        issued["number"],
        "14 janvier 2027",  # date
        "13 février 2027",  # validity
        "1 800,00 €",  # total
        "2 000,00 €",
        "-200,00 €",
        VAT_REFERENCE,
        "TVA non applicable",
        "Le prix ne comprend pas : transport, repas, hébergement.",
        "Les ateliers des cultures numériques #1",
        "6 jours, soit 45 heures",
        "Lieu : Paris",
        "Camille Candidate",
        "Musée d’exemple",
        "Bon pour accord",
        "Signature",
        app.state.settings.org_name,
    ):
        assert expected in text, expected
    # What the settings do not give is left out rather than invented.
    assert "SIRET" not in text and "Déclaration d’activité" not in text
    assert secretariat.get(f"/quotes/{quote['id']}/pdf").status_code == 200


def test_the_pdf_names_the_organisation_from_the_settings(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient
) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={
            "org_name": "Observatoire des politiques culturelles",
            "org_address": "1, rue du Vieux Temple, 38000 Grenoble",
            "org_siret": "732 829 320 00074",
            "org_training_declaration": "82 38 00000 38",
            "org_email": "formations@observatoire-culture.example",
            "org_phone": "+33 4 76 00 00 00",
        }
    )
    quote = _issue(secretariat, _request(applicant, _application(app, session, applicant))["id"])
    pages, text = _pdf_text(applicant.get(f"/quotes/{quote['id']}/pdf"))
    assert pages == 1
    for expected in (
        "Observatoire des politiques culturelles",
        "1, rue du Vieux Temple, 38000 Grenoble",
        "SIRET 732 829 320 00074",
        "Déclaration d’activité enregistrée sous le numéro 82 38 00000 38",
        "formations@observatoire-culture.example",
        "+33 4 76 00 00 00",
        "2 000,00 €",
    ):
        assert expected in text, expected


def test_an_issued_quotes_pdf_prints_what_it_took_at_issue_whatever_changes_later(
    app: FastAPI, applicant: TestClient, secretariat: TestClient
) -> None:
    upcoming = published_session(
        secretariat, venue="La Gaîté Lyrique", address="3 bis, rue Papin, 75003 Paris", capacity=30
    )
    quote = _request(applicant, _application(app, upcoming, applicant))
    issued = _issue(secretariat, quote["id"])
    first = applicant.get(f"/quotes/{quote['id']}/pdf")
    _pages, before = _pdf_text(first)
    changed = secretariat.patch(
        f"/sessions/{upcoming['id']}",
        json={
            "title": "Titre changé après l’émission",
            "venue": "Salle des fêtes",
            "address": "1, place de la Mairie, 13001 Marseille",
            "city": "Marseille",
            "start_date": "2027-04-12",
            "end_date": "2027-04-14",
            "hours": 21,
            "daily_start_time": "10:00",
            "daily_end_time": "16:00",
            "price_excludes": ["rien"],
            "price_cents": 90_000,
        },
    )
    assert changed.status_code == 200, changed.text
    app.state.settings = app.state.settings.model_copy(
        update={"org_name": "Un autre organisme", "org_address": "9, rue Neuve, 69001 Lyon"}
    )
    _pages, after = _pdf_text(applicant.get(f"/quotes/{quote['id']}/pdf"))
    assert after == before
    for kept in (
        upcoming["title"],
        "La Gaîté Lyrique, 3 bis, rue Papin, 75003 Paris",
        "Du lundi 8 au samedi 13 mars 2027",
        "6 jours, soit 45 heures",
        "9 h 30 – 17 h 30",
        "transport, repas, hébergement",
        "Observatoire des politiques culturelles",
        "2 000,00 €",
    ):
        assert kept in after, kept
    for gone in ("Titre changé", "Marseille", "Un autre organisme", "Lyon", "rien", "900,00"):
        assert gone not in after, gone
    assert applicant.get(f"/quotes/{quote['id']}").json() == issued


def test_a_draft_or_cancelled_quote_has_no_pdf(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient
) -> None:
    quote = _request(applicant, _application(app, session, applicant))
    assert_problem(applicant.get(f"/quotes/{quote['id']}/pdf"), 409, "quote_not_issued")
    _issue(secretariat, quote["id"])
    secretariat.post(f"/quotes/{quote['id']}/cancel")
    assert_problem(secretariat.get(f"/quotes/{quote['id']}/pdf"), 409, "quote_not_issued")


def test_accepted_declined_and_expired_quotes_keep_their_pdf(
    app: FastAPI, session: dict, applicant: TestClient, secretariat: TestClient, clock: FixedClock
) -> None:
    quotes = [
        _issue(
            secretariat,
            _request(applicant, _application(app, published_session(secretariat), applicant))["id"],
        )
        for _ in range(3)
    ]
    applicant.post(f"/quotes/{quotes[0]['id']}/accept")
    applicant.post(f"/quotes/{quotes[1]['id']}/decline")
    _move_clock(clock, datetime(2027, 6, 1, 9, 0, tzinfo=UTC), applicant)
    assert applicant.get(f"/quotes/{quotes[2]['id']}").json()["status"] == "expired"
    for quote in quotes:
        pages, text = _pdf_text(applicant.get(f"/quotes/{quote['id']}/pdf"))
        assert pages == 1 and quote["number"] in text


def test_only_the_owner_and_the_secretariat_get_the_pdf(
    app: FastAPI,
    session: dict,
    applicant: TestClient,
    make_user,
    anonymous: TestClient,
    secretariat: TestClient,
) -> None:
    quote = _issue(secretariat, _request(applicant, _application(app, session, applicant))["id"])
    for client in (make_user("applicant"), make_user("trainer")):
        assert_problem(client.get(f"/quotes/{quote['id']}/pdf"), 404, "not_found")
    assert_unauthorized(anonymous.get(f"/quotes/{quote['id']}/pdf"))


def test_a_long_quote_still_fits_one_page(
    app: FastAPI, secretariat: TestClient, applicant: TestClient
) -> None:
    session = published_session(
        secretariat,
        title="T" * 200,
        venue="V" * 200,  # the column holds 200 (the request allows 300: reported)
        address="A" * 500,
        price_excludes=["frais de déplacement, de repas et d’hébergement"] * 3,
    )
    fields = _approved_discount(secretariat, label="L" * 200)
    long_billing = {
        "billing_name": "N" * 200,
        "billing_organisation": "O" * 200,
        "billing_address": "A" * 500,
    }
    quote = _request(applicant, _application(app, session, applicant, **long_billing, **fields))
    noted = secretariat.patch(
        f"/quotes/{quote['id']}", json={"notes": ["Une note assez longue pour occuper la ligne."] * 5}
    )
    assert noted.status_code == 200, noted.text
    _issue(secretariat, quote["id"])
    pages, _text = _pdf_text(applicant.get(f"/quotes/{quote['id']}/pdf"))
    assert pages <= 2  # an extreme quote may spill over; it still renders, with its footer on each page
