"""Small builders of valid requests, so that each test states only what it is about."""

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

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


def discount_payload(**overrides: Any) -> dict[str, Any]:
    """A valid POST /discounts body: the brochure's 10 % for alumni, on every session."""
    payload: dict[str, Any] = {
        "code": "ALUMNI",
        "label": "Anciens stagiaires",
        "percent": "10",
        "eligibility": "Les anciens stagiaires de l’Observatoire (adhérents à l’association Réseau).",
        "requires_proof": True,
    }
    payload.update(overrides)
    return payload


def create_discount(client: TestClient, **overrides: Any) -> dict[str, Any]:
    """POST /discounts as `client` (the secretariat), asserting it was created."""
    answer = client.post("/discounts", json=discount_payload(**overrides))
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def insert_application(
    app: FastAPI,
    *,
    session_id: int,
    applicant_id: int,
    status: str = "submitted",
    discount_id: int | None = None,
    discount_status: str = "none",
    **fields: Any,
) -> int:
    """An Application row written straight to the database (the applications endpoints are built
    elsewhere); a discount's status is set as the secretariat's decision would leave it."""
    now = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
    with open_session(app.state.engine, write=True) as db:
        application = Application(
            session_id=session_id,
            applicant_id=applicant_id,
            status=status,
            submitted_at=now,
            motivation="Développer les projets numériques de ma structure.",
            discount_id=discount_id,
            discount_status=discount_status,
            created_at=now,
            updated_at=now,
            **fields,
        )
        db.add(application)
        db.commit()
        assert application.id is not None
        return application.id
