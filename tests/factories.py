"""Small builders of valid requests, so that each test states only what it is about."""

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.db import open_session
from models.application import Application


def session_payload(**overrides: Any) -> dict[str, Any]:
    """A valid POST /sessions body: a week in Paris after the test clock's date."""
    payload: dict[str, Any] = {
        "title": "Les ateliers des cultures numériques #3",
        "subtitle": "Pratiques numériques de la culture",
        "summary": "Une semaine d’ateliers pour les professionnels de la culture.",
        "start_date": "2027-03-08",
        "end_date": "2027-03-13",
        "hours": 45,
        "city": "Paris",
        "capacity": 25,
        "price_cents": 200_000,
        "price_excludes": ["transport", "repas", "hébergement"],
        "application_deadline": "2027-02-18",
        "postmark_counts": True,
    }
    payload.update(overrides)
    return payload


def create_session(client: TestClient, **overrides: Any) -> dict[str, Any]:
    """POST /sessions as `client` (the secretariat), asserting it was created."""
    answer = client.post("/sessions", json=session_payload(**overrides))
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def published_session(client: TestClient, **overrides: Any) -> dict[str, Any]:
    """A session created then published by `client` (the secretariat)."""
    session = create_session(client, **overrides)
    answer = client.post(f"/sessions/{session['id']}/publish")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def insert_application(engine: Engine, *, session_id: int, applicant_id: int, now: datetime) -> int:
    """An application row written straight to the database, for tests that need one to exist
    (the applications endpoints are not what they are about). Returns its id."""
    with open_session(engine, write=True) as db:
        application = Application(
            session_id=session_id, applicant_id=applicant_id, submitted_at=now, created_at=now, updated_at=now
        )
        db.add(application)
        db.commit()
        assert application.id is not None
        return application.id
