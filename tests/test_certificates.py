"""Certificates: issued once by the secretariat for an accepted trainee of a completed session,
printed as an attestation de fin de formation, and verified by anyone from their code alone."""

import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from api.clock import FixedClock
from tests.conftest import PASSWORD, UserFactory
from tests.factories import Cohort, build_cohort
from tests.problems import assert_problem, assert_unauthorized

OBJECTIVES = [
    "Comprendre les mutations des pratiques culturelles à l’ère numérique",
    "Concevoir un projet de médiation numérique",
]
VERIFY_FIELDS = {
    "valid",
    "trainee_name",
    "session_title",
    "start_date",
    "end_date",
    "hours_attended",
    "issued_at",
}


@pytest.fixture
def cohort(make_user: UserFactory, secretariat: TestClient) -> Cohort:
    return build_cohort(make_user, secretariat, objectives=OBJECTIVES)


def _complete(cohort: Cohort) -> None:
    for action in ("close", "complete"):
        answer = cohort.secretariat.post(f"/sessions/{cohort.session['id']}/{action}")
        assert answer.status_code == 200, answer.text


def _issue(cohort: Cohort, application_id: int | None = None) -> Any:
    return cohort.secretariat.post(f"/applications/{application_id or cohort.member_app}/certificate")


def _published_evaluation(cohort: Cohort) -> dict[str, Any]:
    """The member's group production "Balade sonore", marked 7.5 / 10 by the trainer and published."""
    deliverable = cohort.trainer.post(
        f"/sessions/{cohort.session['id']}/deliverables",
        json={"title": "Balade sonore", "member_ids": [cohort.member_app]},
    ).json()
    evaluation = cohort.trainer.post(
        f"/deliverables/{deliverable['id']}/evaluations",
        json={"score": "7.5", "max_score": 10, "published": True},
    )
    assert evaluation.status_code == 201, evaluation.text
    return dict(evaluation.json())


@pytest.fixture
def certificate(cohort: Cohort) -> dict[str, Any]:
    _complete(cohort)
    answer = _issue(cohort)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


# Issuing


def test_the_secretariat_issues_a_certificate_once(cohort: Cohort) -> None:
    _complete(cohort)
    first = _issue(cohort)
    assert first.status_code == 201, first.text
    body = first.json()
    assert set(body) == {"id", "code", "issued_at", "hours_attended"}
    assert first.headers["location"] == f"/api/v1/certificates/{body['id']}"
    assert body["hours_attended"] == "0.00"  # no half-day recorded for this trainee
    again = _issue(cohort)
    assert again.status_code == 200, again.text
    assert again.json() == body


def test_the_code_is_long_random_and_unique(cohort: Cohort) -> None:
    _complete(cohort)
    codes = [_issue(cohort, app).json()["code"] for app in (cohort.member_app, cohort.classmate_app)]
    for code in codes:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", code), code  # 32 random bytes, URL-safe
    assert codes[0] != codes[1]


def test_a_session_not_completed_is_not_eligible(cohort: Cohort) -> None:
    assert_problem(_issue(cohort), 409, "not_eligible")
    cohort.secretariat.post(f"/sessions/{cohort.session['id']}/close")
    assert_problem(_issue(cohort), 409, "not_eligible")


def test_an_application_not_accepted_is_not_eligible(cohort: Cohort) -> None:
    _complete(cohort)
    assert_problem(_issue(cohort, cohort.candidate_app), 409, "not_eligible")


def test_who_may_issue(cohort: Cohort, anonymous: TestClient) -> None:
    _complete(cohort)
    url = f"/applications/{cohort.member_app}/certificate"
    assert_unauthorized(anonymous.post(url))
    # Those who may read the application may not issue: 403; anyone else does not see it: 404.
    assert_problem(cohort.member.post(url), 403, "forbidden")
    assert_problem(cohort.trainer.post(url), 403, "forbidden")
    for outsider in (cohort.other_trainer, cohort.classmate, cohort.candidate):
        assert_problem(outsider.post(url), 404, "not_found")
    assert_problem(cohort.secretariat.post("/applications/999999/certificate"), 404, "not_found")


def test_the_hours_attended_come_from_the_attendance_record(
    clock: FixedClock, cohort: Cohort, anonymous: TestClient
) -> None:
    # The second afternoon, 14:00 in Paris: the three half-days recorded have begun.
    clock.set(datetime(2027, 3, 9, 13, 0, tzinfo=UTC))
    for client in (cohort.trainer, cohort.secretariat, cohort.member):
        answer = client.post("/auth/token", data={"username": client.user["email"], "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    # 45 h over 6 days is 3.75 h a half-day: three half-days present are 11.25 h.
    for day, half_day in (("2027-03-08", "am"), ("2027-03-08", "pm"), ("2027-03-09", "am")):
        answer = cohort.trainer.put(
            f"/sessions/{cohort.session['id']}/attendance",
            json={"date": day, "half_day": half_day, "present": [cohort.member_app]},
        )
        assert answer.status_code == 200, answer.text
    _complete(cohort)
    issued = _issue(cohort).json()
    assert issued["hours_attended"] == "11.25"
    assert anonymous.get(f"/certificates/verify/{issued['code']}").json()["hours_attended"] == "11.25"
    text = _flat(_text(cohort.member.get(f"/certificates/{issued['id']}/pdf")))
    assert "11,25" in text


# The document


def _text(answer: Any) -> str:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(answer.content))
    return "\n".join(page.extract_text() for page in reader.pages)


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_the_pdf_states_what_an_attestation_must(cohort: Cohort, certificate: dict[str, Any]) -> None:
    text = _flat(_text(cohort.member.get(f"/certificates/{certificate['id']}/pdf")))
    assert "ATTESTATION DE FIN DE FORMATION" in text
    assert "Camille Durand" in text
    assert cohort.session["title"] in text
    for objective in OBJECTIVES:
        assert objective in text
    assert "L6313-1" in text and "formation professionnelle continue" in text
    assert "du lundi 8 au samedi 13 mars 2027" in text.lower()
    assert "6 jours, soit 45 heures" in text
    assert "Durée effectivement suivie" in text and "sur 45 heures" in text
    assert "Observatoire des politiques culturelles" in text
    assert "Signature" in text
    assert f"https://ateliers.example/api/v1/certificates/verify/{certificate['code']}" in text.replace(
        " ", ""
    )


def test_the_pdf_reports_the_published_evaluations_of_the_trainees_productions(
    cohort: Cohort, make_user: UserFactory
) -> None:
    _published_evaluation(cohort)
    _complete(cohort)
    member = _issue(cohort).json()
    text = _flat(_text(cohort.secretariat.get(f"/certificates/{member['id']}/pdf")))
    assert "Balade sonore" in text and "7,5 / 10" in text
    assert "15 / 20" in text  # 7.5 out of 10, brought to 20
    classmate = _issue(cohort, cohort.classmate_app).json()
    text = _flat(_text(cohort.secretariat.get(f"/certificates/{classmate['id']}/pdf")))
    assert "Balade sonore" not in text and "Aucune évaluation publiée" in text


def test_an_issued_certificate_prints_what_it_took_at_issue_whatever_changes_later(
    cohort: Cohort, anonymous: TestClient
) -> None:
    evaluation = _published_evaluation(cohort)
    _complete(cohort)
    issued = _issue(cohort).json()
    pdf_url, verify_url = f"/certificates/{issued['id']}/pdf", f"/certificates/verify/{issued['code']}"
    before, verified = _text(cohort.member.get(pdf_url)), anonymous.get(verify_url).json()
    changes = {
        f"/sessions/{cohort.session['id']}": {
            "title": "Titre changé après l’émission",
            "venue": "Salle des fêtes",
            "city": "Marseille",
            "start_date": "2027-04-12",
            "end_date": "2027-04-14",
            "hours": 21,
            "daily_start_time": "10:00",
            "objectives": ["Un objectif ajouté après"],
        },
        f"/users/{cohort.member.user['id']}": {"full_name": "Nom changé"},
        f"/evaluations/{evaluation['id']}": {"score": "2"},
    }
    for url, body in changes.items():
        client = cohort.trainer if url.startswith("/evaluations") else cohort.secretariat
        answer = client.patch(url, json=body)
        assert answer.status_code == 200, answer.text
    settings = cohort.secretariat.app.state.settings  # type: ignore[attr-defined]
    cohort.secretariat.app.state.settings = settings.model_copy(  # type: ignore[attr-defined]
        update={"org_name": "Un autre organisme", "org_address": "9, rue Neuve, 69001 Lyon"}
    )
    after = _text(cohort.member.get(pdf_url))
    assert after == before
    flat = _flat(after)
    for kept in ("Camille Durand", cohort.session["title"], "Du lundi 8 au samedi 13 mars 2027", "45 heures",
                 "9 h 30", OBJECTIVES[0], "7,5 / 10", "Observatoire des politiques culturelles"):  # fmt: skip
        assert kept in flat, kept
    for gone in ("Titre changé", "Nom changé", "Marseille", "Un objectif ajouté", "2 / 10", "Lyon"):
        assert gone not in flat, gone
    assert anonymous.get(verify_url).json() == verified
    assert verified["trainee_name"] == "Camille Durand"
    assert verified["session_title"] == cohort.session["title"]
    assert (verified["start_date"], verified["end_date"]) == ("2027-03-08", "2027-03-13")


def test_who_may_download(cohort: Cohort, certificate: dict[str, Any], anonymous: TestClient) -> None:
    url = f"/certificates/{certificate['id']}/pdf"
    assert cohort.member.get(url).status_code == 200
    assert cohort.secretariat.get(url).status_code == 200
    assert_unauthorized(anonymous.get(url))
    for outsider in (cohort.trainer, cohort.other_trainer, cohort.classmate, cohort.candidate):
        assert_problem(outsider.get(url), 404, "not_found")
    assert_problem(cohort.secretariat.get("/certificates/999999/pdf"), 404, "not_found")


# Public verification


def test_anyone_verifies_a_code_and_learns_only_the_listed_fields(
    cohort: Cohort, certificate: dict[str, Any], anonymous: TestClient
) -> None:
    answer = anonymous.get(f"/certificates/verify/{certificate['code']}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == VERIFY_FIELDS
    assert body["valid"] is True
    assert body["trainee_name"] == "Camille Durand"
    assert body["session_title"] == cohort.session["title"]
    assert (body["start_date"], body["end_date"]) == ("2027-03-08", "2027-03-13")
    assert body["hours_attended"] == certificate["hours_attended"]
    assert body["issued_at"] == certificate["issued_at"]
    assert "@" not in answer.text  # no email
    # Partner sites may call it from their pages (CORS, without credentials).
    cors = anonymous.get(
        f"/certificates/verify/{certificate['code']}", headers={"Origin": "https://partner.example"}
    )
    assert cors.headers["access-control-allow-origin"] == "*"


def test_an_unknown_or_malformed_code_is_refused(anonymous: TestClient, certificate: dict[str, Any]) -> None:
    assert_problem(anonymous.get("/certificates/verify/" + "A" * 43), 404, "not_found")
    assert_problem(anonymous.get("/certificates/verify/" + "A" * 65), 422, "validation_error")
    assert_problem(anonymous.get("/certificates/verify/abc%20def%20ghi%20jkl%20mno"), 422, "validation_error")
