"""Small builders of valid requests, so that each test states only what it is about."""

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.db.engine import open_session
from api.db.transactions import transaction
from api.services.users import create_user
from models.application import Application
from models.discount import Discount
from models.user import Role, User


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


def application_payload(**overrides: Any) -> dict[str, Any]:
    """A valid online application body."""
    payload: dict[str, Any] = {
        "motivation": "Je coordonne la médiation numérique d’un musée et veux repenser nos parcours.",
        "organisation": "Musée des Beaux-Arts",
        "job_title": "Chargée de médiation",
        "audience": "culture_professional",
        "funding": "employer",
        "billing": {
            "name": "Service formation",
            "organisation": "Musée des Beaux-Arts",
            "address": "20 place des Terreaux, 69001 Lyon",
            "email": "formation@musee.example",
        },
    }
    payload.update(overrides)
    return payload


def apply(client: TestClient, session_id: int, **overrides: Any) -> dict[str, Any]:
    """POST /sessions/{id}/applications as `client` (an applicant), asserting it was created."""
    answer = client.post(f"/sessions/{session_id}/applications", json=application_payload(**overrides))
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def paper_payload(applicant_id: int, postmarked_on: str, **overrides: Any) -> dict[str, Any]:
    """A valid paper-file body, as the secretariat records it."""
    return application_payload(
        channel="paper", applicant_id=applicant_id, postmarked_on=postmarked_on, **overrides
    )


def add_account(
    app: FastAPI, email: str, *, password: str, role: Role, full_name: str, now: datetime
) -> None:
    """An account made the way `ateliers create-user` makes it: the service, through the runner."""
    with transaction(open_session(app.state.engine, write=True)) as db:
        create_user(
            db,
            email=email,
            password=password,
            full_name=full_name,
            role=role,
            now=now,
            passwords=app.state.passwords,
        )


def applicant_accounts(app: FastAPI, count: int, *, now: datetime) -> list[int]:
    """`count` applicant accounts that never log in (paper files are recorded for them); their ids."""
    with open_session(app.state.engine, write=True) as db:
        users = [
            User(
                email=f"dossier-{uuid.uuid4().hex[:10]}@example.org",
                full_name=f"Candidat·e papier {n}",
                password_hash="!",  # matches no password: nobody logs in as them
                role=Role.applicant,
                created_at=now,
                updated_at=now,
            )
            for n in range(count)
        ]
        db.add_all(users)
        db.commit()
        return [user.id for user in users if user.id is not None]


def add_discount(app: FastAPI, code: str, *, now: datetime, **fields: Any) -> int:
    """A discount row, as the secretariat will create it through its own endpoint; its id."""
    values: dict[str, Any] = {
        "label": "Abonnés du service de documentation",
        "percent": Decimal("10"),
        "eligibility": "Abonnés",
    }
    values.update(fields)
    with open_session(app.state.engine, write=True) as db:
        discount = Discount(code=code, created_at=now, updated_at=now, **values)
        db.add(discount)
        db.commit()
        assert discount.id is not None
        return discount.id


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


def decide(secretariat: TestClient, application_id: int, decision: str = "accepted") -> dict[str, Any]:
    """POST /applications/{id}/decision as the secretariat, asserting it was taken."""
    answer = secretariat.post(f"/applications/{application_id}/decision", json={"decision": decision})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def assign_trainers(secretariat: TestClient, session_id: int, *trainers: TestClient) -> None:
    """PUT /sessions/{id}/trainers as the secretariat."""
    answer = secretariat.put(
        f"/sessions/{session_id}/trainers", json={"trainer_ids": [t.user["id"] for t in trainers]}
    )
    assert answer.status_code == 200, answer.text


@dataclass
class Cohort:
    """A published session with one caller of every kind around it.

    `trainer` teaches it and `other_trainer` teaches another session; `member` and `classmate` are
    accepted trainees (their applications `member_app`, `classmate_app`); `candidate` applied and
    was not accepted (`candidate_app`).
    """

    session: dict[str, Any]
    other_session: dict[str, Any]
    secretariat: TestClient
    trainer: TestClient
    other_trainer: TestClient
    member: TestClient
    classmate: TestClient
    candidate: TestClient
    member_app: int
    classmate_app: int
    candidate_app: int


def build_cohort(make_user: Callable[..., TestClient], secretariat: TestClient, **overrides: Any) -> Cohort:
    """Everyone a session's sub-resources are tested against; `overrides` shape the session."""
    session = published_session(secretariat, **overrides)
    other = published_session(secretariat, title="Une autre session", **overrides)
    trainer = make_user(Role.trainer, full_name="Élise Formatrice")
    other_trainer = make_user(Role.trainer, full_name="Paul Autreformateur")
    assign_trainers(secretariat, session["id"], trainer)
    assign_trainers(secretariat, other["id"], other_trainer)
    member = make_user(Role.applicant, full_name="Camille Durand")
    classmate = make_user(Role.applicant, full_name="Dominique Martin")
    candidate = make_user(Role.applicant, full_name="Sacha Candidat")
    member_app = apply(member, session["id"])["id"]
    classmate_app = apply(classmate, session["id"])["id"]
    candidate_app = apply(candidate, session["id"])["id"]
    decide(secretariat, member_app)
    decide(secretariat, classmate_app)
    return Cohort(
        session, other, secretariat, trainer, other_trainer, member, classmate, candidate,
        member_app, classmate_app, candidate_app,
    )  # fmt: skip


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every operation of the app's contract, walking the routers it includes (not the pages of its
    documentation, which take no body)."""
    for route in routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            yield route
        included = getattr(route, "original_router", None)  # FastAPI keeps included routers as a tree
        if included is not None:
            yield from api_routes(included.routes)
