"""The brochure's session, its next edition, and one demo account per role."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, select

from api.clock import paris_today
from api.services.sessions import assign_trainers, change_status, create_session
from api.services.users import create_user, find_user_by_email
from models.training_session import TrainingSession, TrainingSessionCreate
from models.user import Role, User


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    full_name: str
    role: Role


DEMO_ACCOUNTS = (
    DemoAccount(
        "secretariat@ateliers.example", "demo-secretariat-2016", "Claire Secrétariat", Role.secretariat
    ),
    DemoAccount("formatrice@ateliers.example", "demo-formatrice-2016", "Élise Martin", Role.trainer),
    DemoAccount("formateur@ateliers.example", "demo-formateur-2016", "Hugo Lefèvre", Role.trainer),
    DemoAccount("candidate@ateliers.example", "demo-candidate-2016", "Camille Durand", Role.applicant),
)

FIRST_EDITION_SLUG = "les-ateliers-des-cultures-numeriques-1"
NEXT_EDITION_SLUG = "les-ateliers-des-cultures-numeriques-2"

_PROGRAMME = {
    "subtitle": "Une semaine pour comprendre et pratiquer les cultures numériques",
    "summary": (
        "Six jours d'ateliers, de conférences et de productions en groupe pour les professionnels "
        "de la culture, les décideurs publics et les artistes qui veulent s'approprier les "
        "pratiques numériques."
    ),
    "description": (
        "Les ateliers des cultures numériques réunissent pendant une semaine des professionnels "
        "de la culture, des décideurs publics et des artistes. Alternant apports théoriques, "
        "études de cas et ateliers pratiques, la formation conduit chaque groupe à réaliser une "
        "production collective, évaluée par l'équipe pédagogique. Une attestation de formation "
        "est remise à l'issue de la session.\n\n"
        "L'admission se fait sur dossier de candidature. Tarif réduit de 10 % pour les abonnés "
        "du service de documentation et pour les anciens stagiaires."
    ),
    "objectives": [
        "Comprendre les mutations des pratiques culturelles à l'ère numérique",
        "Concevoir un projet culturel intégrant les outils et les usages numériques",
        "Expérimenter en groupe la production d'un contenu numérique",
    ],
    "audiences": ["Professionnels de la culture", "Décideurs publics", "Artistes"],
    "topics": [
        "Cultures et usages numériques",
        "Médiation et publics en ligne",
        "Droit d'auteur et licences libres",
        "Données, archives et patrimoine numérisé",
        "Création et production numériques",
    ],
    "methods": [
        "Conférences et tables rondes",
        "Études de cas",
        "Ateliers pratiques en petits groupes",
        "Production collective évaluée par l'équipe pédagogique",
    ],
    "hours": 45,
    "daily_start_time": time(9, 30),
    "daily_end_time": time(17, 30),
    "city": "Paris",
    "venue": "",
    "address": "Paris",
    "capacity": 25,
    "price_cents": 200_000,
    "currency": "EUR",
    "price_excludes": ["transport", "repas", "hébergement"],
    "postmark_counts": True,
    "contact_email": "secretariat@ateliers.example",
    "contact_phone": "+33 1 00 00 00 00",
}


def _account(db: Session, account: DemoAccount, *, now: datetime) -> User:
    existing = find_user_by_email(db, account.email)
    if existing is not None:
        return existing
    return create_user(
        db,
        email=account.email,
        password=account.password,
        full_name=account.full_name,
        role=account.role,
        now=now,
    )


def _next_monday_about_three_months_after(today: date) -> date:
    start = today + timedelta(days=90)
    return start + timedelta(days=(7 - start.weekday()) % 7)


def _edition(
    db: Session,
    *,
    slug: str,
    title: str,
    start: date,
    deadline: date,
    walk: list[str],
    trainers: list[int],
    now: datetime,
) -> TrainingSession:
    session = db.exec(select(TrainingSession).where(TrainingSession.slug == slug)).first()
    if session is not None:
        return session
    data = TrainingSessionCreate(
        slug=slug,
        title=title,
        start_date=start,
        end_date=start + timedelta(days=5),
        days=6,
        application_deadline=deadline,
        **_PROGRAMME,  # type: ignore[arg-type]
    )
    session = create_session(db, data, now=now)
    assign_trainers(db, session, trainers, now=now)
    for action in walk:
        change_status(db, session, action, now=now)
    return session


def seed_demo(db: Session, *, now: datetime) -> list[DemoAccount]:
    """Load the demo data; what already exists is left as it is, so a second run changes nothing."""
    users = {account.email: _account(db, account, now=now) for account in DEMO_ACCOUNTS}
    trainer_ids = [u.id for u in users.values() if u.role == Role.trainer and u.id is not None]
    _edition(
        db,
        slug=FIRST_EDITION_SLUG,
        title="Les ateliers des cultures numériques #1",
        start=date(2016, 3, 7),
        # "avant le 19 février 2016": the 18th is the last day accepted.
        deadline=date(2016, 2, 18),
        walk=["publish", "close", "complete"],
        trainers=trainer_ids,
        now=now,
    )
    start = _next_monday_about_three_months_after(paris_today(now))
    _edition(
        db,
        slug=NEXT_EDITION_SLUG,
        title="Les ateliers des cultures numériques #2",
        start=start,
        deadline=start - timedelta(days=18),
        walk=["publish"],
        trainers=trainer_ids,
        now=now,
    )
    return list(DEMO_ACCOUNTS)
