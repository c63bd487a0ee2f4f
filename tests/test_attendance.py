"""Attendance through HTTP: the roster of a session, presence by half-day (replaced when recorded
again), the hours it is worth, the attendance sheet and the certificate of attendance."""

import io
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader

from api.clock import PARIS, FixedClock
from api.config import Settings
from api.db.engine import open_session
from api.main import create_app
from models.attendance import HalfDayAttendance
from models.user import Role
from tests.conftest import PASSWORD, UserFactory
from tests.factories import applicant_accounts, apply, insert_application, published_session
from tests.problems import assert_problem, assert_unauthorized

# Monday 8 to Saturday 13 February 2027: 6 days, 45 hours, so 3.75 hours a half-day.
SESSION: dict[str, Any] = {
    "title": "Les ateliers des cultures numériques #4",
    "start_date": "2027-02-08",
    "end_date": "2027-02-13",
    "application_deadline": "2027-01-31",
    "hours": 45,
    "city": "Paris",
    "venue": "Maison des associations",
    "address": "12 rue de l’Exemple, 75011 Paris",
}
FIRST_DAY = datetime(2027, 2, 8, 8, 0, tzinfo=UTC)  # 9:00 in Paris
# The Monday after a fortnight from the first day: every half-day of the tests' sessions has begun.
AFTERWARDS = datetime(2027, 2, 22, 8, 0, tzinfo=UTC)
# Where the rendered pages are written to be looked at, when asked.
PNG_DIR = os.environ.get("ATELIERS_PDF_DIR")


@pytest.fixture
def session(secretariat: TestClient) -> dict[str, Any]:
    return published_session(secretariat, **SESSION)


@pytest.fixture
def session_trainer(make_user: UserFactory, secretariat: TestClient, session: dict) -> TestClient:
    trainer = make_user(Role.trainer, full_name="Élise Formatrice")
    answer = secretariat.put(
        f"/sessions/{session['id']}/trainers", json={"trainer_ids": [trainer.user["id"]]}
    )
    assert answer.status_code == 200, answer.text
    return trainer


@pytest.fixture
def other_trainer(make_user: UserFactory, secretariat: TestClient) -> TestClient:
    """A trainer assigned to another session only."""
    trainer = make_user(Role.trainer, full_name="Marc Autre-Session")
    other = published_session(secretariat, **{**SESSION, "title": "Une autre session"})
    answer = secretariat.put(f"/sessions/{other['id']}/trainers", json={"trainer_ids": [trainer.user["id"]]})
    assert answer.status_code == 200, answer.text
    return trainer


def _accepted(secretariat: TestClient, client: TestClient, session_id: int, **fields: Any) -> int:
    application = apply(client, session_id, **fields)
    answer = secretariat.post(f"/applications/{application['id']}/decision", json={"decision": "accepted"})
    assert answer.status_code == 200, answer.text
    application_id: int = application["id"]
    return application_id


@pytest.fixture
def trainees(make_user: UserFactory, secretariat: TestClient, session: dict) -> dict[str, Any]:
    """Two accepted trainees and one still submitted, with their clients and application ids."""
    camille = make_user(Role.applicant, full_name="Camille Durand")
    bastien = make_user(Role.applicant, full_name="Bastien Aubert")
    pending = make_user(Role.applicant, full_name="Zoé Attente")
    return {
        "camille": camille,
        "bastien": bastien,
        "pending": pending,
        "camille_id": _accepted(secretariat, camille, session["id"], job_title="Chargée de médiation"),
        "bastien_id": _accepted(secretariat, bastien, session["id"], organisation="Ville de Lyon"),
        "pending_id": apply(pending, session["id"])["id"],
    }


def _put(client: TestClient, session_id: int, day: str, half_day: str, present: list[int]) -> httpx.Response:
    return client.put(
        f"/sessions/{session_id}/attendance", json={"date": day, "half_day": half_day, "present": present}
    )


def _recorded(client: TestClient, session_id: int, day: str, half_day: str, present: list[int]) -> dict:
    answer = _put(client, session_id, day, half_day, present)
    assert answer.status_code == 200, answer.text
    body: dict = answer.json()
    return body


def _attendance(client: TestClient, session_id: int) -> dict[int, dict]:
    answer = client.get(f"/sessions/{session_id}/attendance")
    assert answer.status_code == 200, answer.text
    return {line["application_id"]: line for line in answer.json()["items"]}


def _move_clock(clock: FixedClock, at: datetime, *clients: TestClient) -> None:
    """Set the service's clock, and log the clients in again: their access tokens have expired."""
    clock.set(at)
    for client in clients:
        answer = client.post("/auth/token", data={"username": client.user["email"], "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"


def _pdf_text(answer: httpx.Response, name: str) -> tuple[int, str]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["cache-control"] == "private, no-store"
    if PNG_DIR:
        with open(os.path.join(PNG_DIR, f"{name}.pdf"), "wb") as out:
            out.write(answer.content)
    reader = PdfReader(io.BytesIO(answer.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return len(reader.pages), text.replace("\u00a0", " ").replace("\u202f", " ")


# Who may follow a session's trainees

SUB_RESOURCES = ("roster", "attendance", "attendance/pdf")


@pytest.mark.parametrize("path", SUB_RESOURCES)
def test_the_assigned_trainer_and_the_secretariat_follow_the_trainees(
    path: str, session: dict, session_trainer: TestClient, secretariat: TestClient
) -> None:
    for client in (session_trainer, secretariat):
        assert client.get(f"/sessions/{session['id']}/{path}").status_code == 200


@pytest.mark.parametrize("path", SUB_RESOURCES)
def test_anyone_else_gets_404_although_the_session_is_public(
    path: str,
    session: dict,
    trainees: dict,
    other_trainer: TestClient,
    anonymous: TestClient,
) -> None:
    assert anonymous.get(f"/sessions/{session['id']}").status_code == 200
    assert_unauthorized(anonymous.get(f"/sessions/{session['id']}/{path}"))
    # An accepted trainee of the session is no trainer of it.
    assert_problem(trainees["camille"].get(f"/sessions/{session['id']}/{path}"), 404, "not_found")
    assert_problem(other_trainer.get(f"/sessions/{session['id']}/{path}"), 404, "not_found")


def test_recording_attendance_is_for_the_assigned_trainer_and_the_secretariat(
    clock: FixedClock,
    session: dict,
    trainees: dict,
    session_trainer: TestClient,
    other_trainer: TestClient,
    secretariat: TestClient,
    anonymous: TestClient,
) -> None:
    _move_clock(clock, AFTERWARDS, trainees["camille"], other_trainer, session_trainer, secretariat)
    present = [trainees["camille_id"]]
    assert_unauthorized(_put(anonymous, session["id"], "2027-02-08", "am", present))
    assert_problem(_put(trainees["camille"], session["id"], "2027-02-08", "am", present), 404, "not_found")
    assert_problem(_put(other_trainer, session["id"], "2027-02-08", "am", present), 404, "not_found")
    assert _recorded(session_trainer, session["id"], "2027-02-08", "am", present)["present"] == present
    assert _recorded(secretariat, session["id"], "2027-02-08", "pm", present)["present"] == present
    assert [h["half_day"] for h in _attendance(secretariat, session["id"])[present[0]]["half_days"]] == [
        "am",
        "pm",
    ]


def test_an_unknown_session_is_404_even_for_the_secretariat(secretariat: TestClient) -> None:
    for path in SUB_RESOURCES:
        assert_problem(secretariat.get(f"/sessions/999/{path}"), 404, "not_found")
    assert_problem(_put(secretariat, 999, "2027-02-08", "am", []), 404, "not_found")
    assert_problem(secretariat.get(f"/sessions/{2**31}/roster"), 422, "validation_error")


# The roster


def test_the_roster_lists_the_accepted_trainees_by_name_without_billing(
    session: dict, trainees: dict, session_trainer: TestClient
) -> None:
    answer = session_trainer.get(f"/sessions/{session['id']}/roster")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "items": [
            {
                "application_id": trainees["bastien_id"],
                "trainee": {"id": trainees["bastien"].user["id"], "full_name": "Bastien Aubert"},
                "organisation": "Ville de Lyon",
                "job_title": "Chargée de médiation",
            },
            {
                "application_id": trainees["camille_id"],
                "trainee": {"id": trainees["camille"].user["id"], "full_name": "Camille Durand"},
                "organisation": "Musée des Beaux-Arts",
                "job_title": "Chargée de médiation",
            },
        ]
    }


# Attendance by half-day


def test_each_accepted_trainee_is_listed_even_with_no_half_day(
    session: dict, trainees: dict, session_trainer: TestClient
) -> None:
    lines = _attendance(session_trainer, session["id"])
    assert set(lines) == {trainees["camille_id"], trainees["bastien_id"]}
    assert lines[trainees["camille_id"]] == {
        "application_id": trainees["camille_id"],
        "trainee": {"id": trainees["camille"].user["id"], "full_name": "Camille Durand"},
        "half_days": [],
        "hours_attended": "0.00",
    }


def test_each_half_day_present_is_worth_the_hours_spread_over_the_half_days(
    clock: FixedClock, session: dict, trainees: dict, session_trainer: TestClient
) -> None:
    _move_clock(clock, AFTERWARDS, session_trainer)
    both = [trainees["camille_id"], trainees["bastien_id"]]
    _recorded(session_trainer, session["id"], "2027-02-08", "am", both)
    _recorded(session_trainer, session["id"], "2027-02-08", "pm", [trainees["camille_id"]])
    _recorded(session_trainer, session["id"], "2027-02-09", "am", both)
    lines = _attendance(session_trainer, session["id"])
    # 45 hours over 6 days: 3.75 hours a half-day.
    assert lines[trainees["bastien_id"]]["hours_attended"] == "7.50"
    assert lines[trainees["camille_id"]]["hours_attended"] == "11.25"
    assert lines[trainees["camille_id"]]["half_days"] == [
        {"date": "2027-02-08", "half_day": "am"},
        {"date": "2027-02-08", "half_day": "pm"},
        {"date": "2027-02-09", "half_day": "am"},
    ]


def test_a_full_attendance_is_worth_the_session_s_hours(
    clock: FixedClock, session: dict, trainees: dict, secretariat: TestClient
) -> None:
    _move_clock(clock, AFTERWARDS, secretariat)
    for day in range(8, 14):
        for half_day in ("am", "pm"):
            _recorded(secretariat, session["id"], f"2027-02-{day:02d}", half_day, [trainees["camille_id"]])
    assert _attendance(secretariat, session["id"])[trainees["camille_id"]]["hours_attended"] == "45.00"


def test_hours_that_do_not_divide_evenly_are_rounded_to_the_hundredth(
    clock: FixedClock, secretariat: TestClient, applicant: TestClient
) -> None:
    session = published_session(secretariat, **{**SESSION, "hours": 40})
    application_id = _accepted(secretariat, applicant, session["id"])
    _move_clock(clock, AFTERWARDS, secretariat)
    _recorded(secretariat, session["id"], "2027-02-08", "am", [application_id])
    # 40 / 12 = 3.333…
    assert _attendance(secretariat, session["id"])[application_id]["hours_attended"] == "3.33"
    _recorded(secretariat, session["id"], "2027-02-08", "pm", [application_id])
    assert _attendance(secretariat, session["id"])[application_id]["hours_attended"] == "6.67"


def test_recording_a_half_day_again_replaces_it(
    clock: FixedClock, session: dict, trainees: dict, session_trainer: TestClient
) -> None:
    _move_clock(clock, AFTERWARDS, session_trainer)
    camille, bastien = trainees["camille_id"], trainees["bastien_id"]
    _recorded(session_trainer, session["id"], "2027-02-08", "am", [camille, bastien])
    _recorded(session_trainer, session["id"], "2027-02-08", "pm", [camille])
    # The morning again, with Bastien only: Camille's morning is gone, her afternoon stays.
    assert _recorded(session_trainer, session["id"], "2027-02-08", "am", [bastien]) == {
        "date": "2027-02-08",
        "half_day": "am",
        "present": [bastien],
    }
    lines = _attendance(session_trainer, session["id"])
    assert lines[camille]["half_days"] == [{"date": "2027-02-08", "half_day": "pm"}]
    assert lines[bastien]["half_days"] == [{"date": "2027-02-08", "half_day": "am"}]
    # The same request twice changes nothing.
    _recorded(session_trainer, session["id"], "2027-02-08", "am", [bastien])
    assert _attendance(session_trainer, session["id"]) == lines
    # Nobody present: the half-day is emptied.
    _recorded(session_trainer, session["id"], "2027-02-08", "am", [])
    assert _attendance(session_trainer, session["id"])[bastien]["hours_attended"] == "0.00"


def test_a_repeated_id_counts_once(
    clock: FixedClock, session: dict, trainees: dict, session_trainer: TestClient
) -> None:
    _move_clock(clock, AFTERWARDS, session_trainer)
    camille, bastien = trainees["camille_id"], trainees["bastien_id"]
    recorded = _recorded(session_trainer, session["id"], "2027-02-08", "am", [camille, bastien, camille])
    assert recorded["present"] == sorted([camille, bastien])
    assert _attendance(session_trainer, session["id"])[camille]["hours_attended"] == "3.75"


@pytest.mark.parametrize("day", ["2027-02-07", "2027-02-14", "2026-02-08"])
def test_a_date_outside_the_session_is_invalid(
    day: str, session: dict, trainees: dict, session_trainer: TestClient
) -> None:
    problem = assert_problem(
        _put(session_trainer, session["id"], day, "am", [trainees["camille_id"]]), 422, "validation_error"
    )
    assert problem["errors"][0]["loc"] == ["body", "date"]


def test_only_accepted_applications_of_the_session_can_be_present(
    clock: FixedClock,
    session: dict,
    trainees: dict,
    session_trainer: TestClient,
    secretariat: TestClient,
    make_user: UserFactory,
) -> None:
    elsewhere = published_session(secretariat, **{**SESSION, "title": "Une autre session"})
    other_trainee = _accepted(secretariat, make_user(Role.applicant), elsewhere["id"])
    rejected = apply(make_user(Role.applicant), session["id"])["id"]
    answer = secretariat.post(f"/applications/{rejected}/decision", json={"decision": "rejected"})
    assert answer.status_code == 200, answer.text
    _move_clock(clock, AFTERWARDS, session_trainer)
    for wrong in (trainees["pending_id"], rejected, other_trainee, 999_999):
        problem = assert_problem(
            _put(session_trainer, session["id"], "2027-02-08", "am", [trainees["camille_id"], wrong]),
            422,
            "validation_error",
        )
        assert problem["errors"][0]["loc"] == ["body", "present", 1]
    # Nothing was recorded by the refused requests.
    assert _attendance(session_trainer, session["id"])[trainees["camille_id"]]["half_days"] == []


def _paris(day: str, hour: int, minute: int = 0) -> datetime:
    """An instant given in Paris wall-clock time (UTC+1 in winter, UTC+2 in summer)."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}").replace(tzinfo=PARIS).astimezone(UTC)


def test_half_days_that_have_not_begun_are_invalid_for_the_trainer_and_the_secretariat(
    clock: FixedClock, session: dict, trainees: dict, session_trainer: TestClient, secretariat: TestClient
) -> None:
    # The first morning, 9:00 in Paris: the whole week recorded at once, as in the review.
    _move_clock(clock, FIRST_DAY, session_trainer, secretariat, trainees["camille"])
    present = [trainees["camille_id"], trainees["bastien_id"]]
    for client in (session_trainer, secretariat):
        for day in range(8, 14):
            for half_day in ("am", "pm"):
                answer = _put(client, session["id"], f"2027-02-{day:02d}", half_day, present)
                if (day, half_day) == (8, "am"):
                    assert answer.status_code == 200, answer.text
                    continue
                problem = assert_problem(answer, 422, "validation_error")
                assert problem["errors"][0]["loc"] == ["body", "half_day" if day == 8 else "date"]
    # Only the morning under way was stored, and only it counts, in every document.
    lines = _attendance(secretariat, session["id"])
    assert lines[trainees["camille_id"]]["half_days"] == [{"date": "2027-02-08", "half_day": "am"}]
    assert lines[trainees["camille_id"]]["hours_attended"] == "3.75"
    _, sheet = _pdf_text(secretariat.get(f"/sessions/{session['id']}/attendance/pdf"), "sheet-day-one")
    assert sheet.count("✓") == 1 + 2 and "45,00" not in sheet  # the legend's, then one each
    _, certificate = _pdf_text(_certificate(trainees["camille"], trainees["camille_id"]), "certificate-1")
    assert "3,75 heures sur 45 heures" in certificate.replace("\n", " ")


@pytest.mark.parametrize(
    ("start", "end", "deadline"),
    [
        pytest.param("2027-02-08", "2027-02-13", "2027-01-31", id="winter-utc+1"),
        pytest.param("2027-06-07", "2027-06-12", "2027-05-31", id="summer-utc+2"),
    ],
)
def test_the_afternoon_begins_at_noon_in_paris(
    start: str,
    end: str,
    deadline: str,
    clock: FixedClock,
    secretariat: TestClient,
    session_trainer: TestClient,
    applicant: TestClient,
) -> None:
    session = published_session(
        secretariat, **{**SESSION, "start_date": start, "end_date": end, "application_deadline": deadline}
    )
    trainers = {"trainer_ids": [session_trainer.user["id"]]}
    assert secretariat.put(f"/sessions/{session['id']}/trainers", json=trainers).status_code == 200
    present = [_accepted(secretariat, applicant, session["id"])]
    _move_clock(clock, _paris(start, 11, 59), session_trainer)
    answer = _put(session_trainer, session["id"], start, "pm", present)
    problem = assert_problem(answer, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "half_day"]
    assert _attendance(session_trainer, session["id"])[present[0]]["half_days"] == []
    _recorded(session_trainer, session["id"], start, "am", present)
    _move_clock(clock, _paris(start, 12, 0), session_trainer)
    _recorded(session_trainer, session["id"], start, "pm", present)
    assert _attendance(session_trainer, session["id"])[present[0]]["hours_attended"] == "7.50"
    # The last day: its morning from midnight, its afternoon from noon, like any other.
    _move_clock(clock, _paris(end, 0, 0), session_trainer)
    _recorded(session_trainer, session["id"], end, "am", present)
    assert_problem(_put(session_trainer, session["id"], end, "pm", present), 422, "validation_error")
    _move_clock(clock, _paris(end, 12, 0), session_trainer)
    _recorded(session_trainer, session["id"], end, "pm", present)
    assert _attendance(session_trainer, session["id"])[present[0]]["hours_attended"] == "15.00"


def test_the_first_morning_has_not_begun_the_day_before_the_session(
    clock: FixedClock, session: dict, trainees: dict, session_trainer: TestClient
) -> None:
    present = [trainees["camille_id"]]
    _move_clock(clock, _paris("2027-02-07", 23, 59), session_trainer)
    answer = _put(session_trainer, session["id"], "2027-02-08", "am", present)
    problem = assert_problem(answer, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["body", "date"]
    assert _attendance(session_trainer, session["id"])[present[0]]["half_days"] == []
    _move_clock(clock, _paris("2027-02-08", 0, 0), session_trainer)
    _recorded(session_trainer, session["id"], "2027-02-08", "am", present)


def test_half_days_recorded_ahead_before_the_rule_count_in_no_document(
    app: FastAPI, clock: FixedClock, session: dict, trainees: dict, secretariat: TestClient
) -> None:
    # Rows the service stored before it refused half-days ahead: the whole week on its first day.
    with open_session(app.state.engine, write=True) as db:
        db.add_all(
            HalfDayAttendance(
                session_id=session["id"],
                application_id=trainees["camille_id"],
                day=date(2027, 2, day),
                half_day=half_day,
                recorded_at=clock.now(),
            )
            for day in range(8, 14)
            for half_day in ("am", "pm")
        )
        db.commit()
    # The first afternoon, 14:00 in Paris: two half-days have begun.
    _move_clock(clock, _paris("2027-02-08", 14, 0), secretariat, trainees["camille"])
    line = _attendance(secretariat, session["id"])[trainees["camille_id"]]
    assert line["half_days"] == [
        {"date": "2027-02-08", "half_day": "am"},
        {"date": "2027-02-08", "half_day": "pm"},
    ]
    assert line["hours_attended"] == "7.50"
    _, sheet = _pdf_text(secretariat.get(f"/sessions/{session['id']}/attendance/pdf"), "sheet-ahead")
    assert sheet.count("✓") == 1 + 2 and "7,50" in sheet and "45,00" not in sheet  # the legend's, then two
    _, certificate = _pdf_text(_certificate(trainees["camille"], trainees["camille_id"]), "certificate-ahead")
    assert "7,50 heures sur 45 heures" in certificate.replace("\n", " ")
    _move_clock(clock, AFTERWARDS, secretariat)
    assert _attendance(secretariat, session["id"])[trainees["camille_id"]]["hours_attended"] == "45.00"


@pytest.mark.parametrize(
    "body",
    [
        {"date": "2027-02-08", "half_day": "noon", "present": []},
        {"date": "2027-02-08", "present": []},
        {"date": "8 février", "half_day": "am", "present": []},
        {"date": "2027-02-08", "half_day": "am", "present": [0]},
        {"date": "2027-02-08", "half_day": "am", "present": ["x"]},
        {"date": "2027-02-08", "half_day": "am"},
    ],
)
def test_a_malformed_half_day_is_invalid(body: dict, session: dict, session_trainer: TestClient) -> None:
    answer = session_trainer.put(f"/sessions/{session['id']}/attendance", json=body)
    assert_problem(answer, 422, "validation_error")


# The attendance sheet


def test_the_attendance_sheet_lists_the_trainees_their_half_days_and_hours(
    clock: FixedClock, session: dict, trainees: dict, session_trainer: TestClient
) -> None:
    _move_clock(clock, AFTERWARDS, session_trainer)
    _recorded(
        session_trainer, session["id"], "2027-02-08", "am", [trainees["camille_id"], trainees["bastien_id"]]
    )
    _recorded(session_trainer, session["id"], "2027-02-08", "pm", [trainees["camille_id"]])
    answer = session_trainer.get(f"/sessions/{session['id']}/attendance/pdf")
    assert (
        answer.headers["content-disposition"] == f'inline; filename="emargement-session-{session["id"]}.pdf"'
    )
    pages, text = _pdf_text(answer, "attendance-sheet")
    assert pages == 1
    for expected in (
        "Observatoire des politiques culturelles",
        "FEUILLE D’ÉMARGEMENT",
        SESSION["title"],
        "Du lundi 8 au samedi 13 février 2027",
        "45 heures",
        "Maison des associations",
        "Camille Durand",
        "Bastien Aubert",
        "7,50",  # Camille: two half-days
        "3,75",  # Bastien: one
        "lundi\n8 février",
        "samedi\n13 février",
        "Formateur·rice : Élise Formatrice",
        "Signature",
    ):
        assert expected in text, expected
    assert "Zoé Attente" not in text  # not accepted


def test_a_long_roster_runs_over_pages_with_the_heading_repeated(
    app: FastAPI, clock: FixedClock, session: dict, session_trainer: TestClient
) -> None:
    ids = [
        insert_application(app, session_id=session["id"], applicant_id=user_id, status="accepted")
        for user_id in applicant_accounts(app, 25, now=clock.now())
    ]
    _move_clock(clock, AFTERWARDS, session_trainer)
    for day in range(8, 14):
        for half_day in ("am", "pm"):
            present = ids[: 25 - (day - 8)]  # a few leave early in the week
            _recorded(session_trainer, session["id"], f"2027-02-{day:02d}", half_day, present)
    pages, text = _pdf_text(
        session_trainer.get(f"/sessions/{session['id']}/attendance/pdf"), "attendance-long"
    )
    assert pages >= 2
    for n in range(25):
        assert f"Candidat·e papier {n}" in text
    assert text.count("Stagiaire") == pages  # the table's heading on each page
    assert "45,00" in text and "37,50" in text  # all twelve half-days; two missed


# The certificate of attendance


def _certificate(client: TestClient, application_id: int) -> httpx.Response:
    return client.get(f"/applications/{application_id}/attendance-certificate")


def test_the_certificate_states_the_hours_attended_so_far(
    clock: FixedClock, session: dict, trainees: dict, session_trainer: TestClient, secretariat: TestClient
) -> None:
    camille = trainees["camille"]
    _move_clock(clock, FIRST_DAY.replace(hour=17), camille, secretariat, session_trainer)
    _recorded(session_trainer, session["id"], "2027-02-08", "am", [trainees["camille_id"]])
    _recorded(session_trainer, session["id"], "2027-02-08", "pm", [trainees["camille_id"]])
    answer = _certificate(camille, trainees["camille_id"])
    assert answer.headers["content-disposition"] == (
        f'inline; filename="certificat-realisation-{trainees["camille_id"]}.pdf"'
    )
    pages, text = _pdf_text(answer, "attendance-certificate")
    assert pages == 1
    for expected in (
        "CERTIFICAT DE RÉALISATION",
        "Observatoire des politiques culturelles",
        "Camille Durand",
        SESSION["title"],
        "Du 8 au 13 février 2027",
        "6 jours, soit 45 heures",
        "Maison des associations",
        "article L6313-1 du Code du travail",
        "Action de formation professionnelle continue",
        "7,50 heures sur 45 heures",
        "à la date du 8 février 2027",
        "Fait à Grenoble, le 8 février 2027",
        "Signature",
    ):
        assert expected in text.replace("\n", " "), expected
    assert _certificate(secretariat, trainees["camille_id"]).status_code == 200


def test_the_certificate_is_the_trainee_s_and_the_secretariat_s_only(
    clock: FixedClock,
    session: dict,
    trainees: dict,
    session_trainer: TestClient,
    anonymous: TestClient,
) -> None:
    others = (trainees["bastien"], session_trainer)
    _move_clock(clock, FIRST_DAY, *others)
    assert_unauthorized(_certificate(anonymous, trainees["camille_id"]))
    for client in others:
        assert_problem(_certificate(client, trainees["camille_id"]), 404, "not_found")
    assert_problem(_certificate(session_trainer, 999_999), 404, "not_found")


def test_no_certificate_before_the_session_starts(
    clock: FixedClock, session: dict, trainees: dict, secretariat: TestClient
) -> None:
    camille = trainees["camille"]
    assert_problem(_certificate(camille, trainees["camille_id"]), 409, "not_eligible")
    # 23:30 in Paris the day before: still not started.
    _move_clock(clock, datetime(2027, 2, 7, 22, 30, tzinfo=UTC), camille, secretariat)
    assert_problem(_certificate(secretariat, trainees["camille_id"]), 409, "not_eligible")
    # 00:30 in Paris on the first day, with nothing attended yet.
    _move_clock(clock, datetime(2027, 2, 7, 23, 30, tzinfo=UTC), camille)
    _, text = _pdf_text(_certificate(camille, trainees["camille_id"]), "attendance-certificate-empty")
    assert "0 heures sur 45 heures" in text.replace("\n", " ")


def test_no_certificate_for_an_application_that_is_not_accepted(
    clock: FixedClock, session: dict, trainees: dict, secretariat: TestClient
) -> None:
    pending = trainees["pending"]
    _move_clock(clock, FIRST_DAY, pending, secretariat)
    assert_problem(_certificate(pending, trainees["pending_id"]), 409, "not_eligible")
    assert_problem(_certificate(secretariat, trainees["pending_id"]), 409, "not_eligible")


def test_hours_never_exceed_the_session_s_when_it_has_fewer_days_than_its_calendar(
    clock: FixedClock, secretariat: TestClient, applicant: TestClient
) -> None:
    # Five days of teaching, 35 hours, from Monday to Saturday: 3.50 hours a half-day.
    session = published_session(secretariat, **{**SESSION, "days": 5, "hours": 35})
    application_id = _accepted(secretariat, applicant, session["id"])
    _move_clock(clock, AFTERWARDS, secretariat)
    _recorded(secretariat, session["id"], "2027-02-08", "am", [application_id])
    assert _attendance(secretariat, session["id"])[application_id]["hours_attended"] == "3.50"
    for day in range(8, 14):
        for half_day in ("am", "pm"):
            _recorded(secretariat, session["id"], f"2027-02-{day:02d}", half_day, [application_id])
    assert _attendance(secretariat, session["id"])[application_id]["hours_attended"] == "35.00"


def test_a_session_longer_than_six_days_is_drawn_in_several_tables(
    clock: FixedClock, secretariat: TestClient, applicant: TestClient
) -> None:
    session = published_session(secretariat, **{**SESSION, "end_date": "2027-02-19", "days": 10, "hours": 70})
    application_id = _accepted(secretariat, applicant, session["id"])
    _move_clock(clock, AFTERWARDS, secretariat)
    _recorded(secretariat, session["id"], "2027-02-19", "pm", [application_id])
    pages, text = _pdf_text(
        secretariat.get(f"/sessions/{session['id']}/attendance/pdf"), "attendance-two-weeks"
    )
    # 12 calendar days: six in each table, the trainee and its total in both, on one page.
    assert pages == 1
    assert text.count("Camille Candidate") == 2 and text.count("3,50") >= 2
    for heading in ("lundi\n8 février", "samedi\n13 février", "dimanche\n14 février", "vendredi\n19 février"):
        assert heading in text, heading


# What the attendance sheet costs


def _renders(caplog: pytest.LogCaptureFixture, session_id: int) -> int:
    return sum(
        1
        for record in caplog.records
        if record.name == "ateliers.attendance"
        and record.getMessage().startswith(f"Attendance sheet of session {session_id} rendered")
    )


def test_ten_downloads_at_once_render_the_sheet_once_and_a_change_renders_it_again(
    app: FastAPI,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
    session: dict,
    session_trainer: TestClient,
    secretariat: TestClient,
) -> None:
    caplog.set_level(logging.INFO, logger="ateliers.attendance")
    ids = [
        insert_application(app, session_id=session["id"], applicant_id=user_id, status="accepted")
        for user_id in applicant_accounts(app, 25, now=clock.now())
    ]
    _move_clock(clock, AFTERWARDS, session_trainer, secretariat)
    for day in range(8, 14):
        _recorded(session_trainer, session["id"], f"2027-02-{day:02d}", "am", ids)
    url = f"/sessions/{session['id']}/attendance/pdf"
    clients = [session_trainer, secretariat] * 5
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda client: client.get(url), clients))
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.content for answer in answers}) == 1
    assert _renders(caplog, session["id"]) == 1
    # Read again with nothing changed: the sheet kept in the cache.
    assert secretariat.get(url).content == answers[0].content
    assert _renders(caplog, session["id"]) == 1
    # A change of what it prints: the next download renders it again, and shows it.
    _recorded(session_trainer, session["id"], "2027-02-13", "pm", ids[:1])
    _, text = _pdf_text(secretariat.get(url), "attendance-after-a-change")
    assert _renders(caplog, session["id"]) == 2
    assert "26,25" in text  # seven half-days, for the first trainee only
    renamed = secretariat.patch(f"/sessions/{session['id']}", json={"title": "Un autre titre"})
    assert renamed.status_code == 200, renamed.text
    _, text = _pdf_text(session_trainer.get(url), "attendance-retitled")
    assert _renders(caplog, session["id"]) == 3
    assert "Un autre titre" in text


def test_another_process_renders_the_sheet_once_itself_and_sees_a_change_at_once(
    settings: Settings,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
    session: dict,
    trainees: dict,
    secretariat: TestClient,
) -> None:
    caplog.set_level(logging.INFO, logger="ateliers.attendance")
    _move_clock(clock, AFTERWARDS, secretariat)
    _recorded(secretariat, session["id"], "2027-02-08", "am", [trainees["camille_id"]])
    url = f"/sessions/{session['id']}/attendance/pdf"
    assert secretariat.get(url).status_code == 200
    assert _renders(caplog, session["id"]) == 1
    # Another process, on the same database: its own state, its own cache.
    other = create_app(settings, clock=clock)
    # Its logging setup replaced the handlers of the service's logs: capture them again.
    logging.getLogger("ateliers").addHandler(caplog.handler)
    try:
        with TestClient(other, base_url="http://testserver/api/v1") as client:
            client.headers["Authorization"] = secretariat.headers["Authorization"]
            first = client.get(url)
            assert first.status_code == 200, first.text
            assert _renders(caplog, session["id"]) == 2
            # Ten minutes later the same day: a new render would carry another creation date.
            clock.set(AFTERWARDS + timedelta(minutes=10))
            assert client.get(url).content == first.content
            assert _renders(caplog, session["id"]) == 2
            # A change made through the first process: the other reads it on its next download.
            _recorded(secretariat, session["id"], "2027-02-08", "pm", [trainees["bastien_id"]])
            _, text = _pdf_text(client.get(url), "attendance-seen-by-another-process")
            assert _renders(caplog, session["id"]) == 3
            assert text.count("3,75") == 2 + 1  # the legend's, then one half-day each
            assert secretariat.get(url).content != first.content
            assert _renders(caplog, session["id"]) == 4
    finally:
        logging.getLogger("ateliers").removeHandler(caplog.handler)
        other.state.engine.dispose()
