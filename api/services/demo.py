"""The brochure's session, its next edition, and one demo account per role."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, select

from api.clock import paris_today
from api.services.applications import decide_application, submit_application, withdraw_application
from api.services.auth import Actor
from api.services.sessions import assign_trainers, change_status, create_session
from api.services.users import create_user, find_user_by_email
from models.application import (
    Application,
    ApplicationCreate,
    Audience,
    Billing,
    Decision,
    Funding,
    PaperApplicationCreate,
)
from models.training_session import SessionStatus, TrainingSession, TrainingSessionCreate
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
    next_edition = _edition(
        db,
        slug=NEXT_EDITION_SLUG,
        title="Les ateliers des cultures numériques #2",
        start=start,
        deadline=start - timedelta(days=18),
        walk=["publish"],
        trainers=trainer_ids,
        now=now,
    )
    _live_season(db, next_edition, secretariat=users[DEMO_ACCOUNTS[0].email], now=now)
    return list(DEMO_ACCOUNTS)


# Fictional applicants of the next edition; they share one password, for trying their side too.
SEASON_PASSWORD = "demo-candidats-2016"


@dataclass(frozen=True)
class DemoApplication:
    email: str
    full_name: str
    organisation: str
    job_title: str
    audience: Audience
    funding: Funding
    motivation: str
    # What happens to it after submission, in order: decisions, or "withdrawn".
    outcome: tuple[str, ...] = ()
    paper_days_ago: int | None = None  # a paper file, postmarked that many days before today


SEASON = (
    DemoApplication(
        "ines.moreau@ateliers.example",
        "Inès Moreau",
        "Médiathèque de Rennes",
        "Bibliothécaire",
        Audience.culture_professional,
        Funding.employer,
        "Je pilote la numérisation du fonds local et veux l'ouvrir à la contribution des habitants.",
        ("accepted",),
    ),
    DemoApplication(
        "theo.garnier@ateliers.example",
        "Théo Garnier",
        "Compagnie Lumen",
        "Metteur en scène",
        Audience.artist,
        Funding.self_funded,
        "Notre compagnie prépare un spectacle mêlant plateau et dispositifs en ligne.",
        ("accepted",),
    ),
    DemoApplication(
        "sophie.lambert@ateliers.example",
        "Sophie Lambert",
        "Ville de Nantes",
        "Adjointe à la culture",
        Audience.public_decision_maker,
        Funding.employer,
        "Je dois arbitrer un plan numérique pour nos équipements culturels et veux en comprendre les enjeux.",
        ("accepted",),
    ),
    DemoApplication(
        "karim.benali@ateliers.example",
        "Karim Benali",
        "Musée d'histoire de Marseille",
        "Chargé des publics",
        Audience.culture_professional,
        Funding.employer,
        "Je conçois des visites augmentées et cherche des méthodes pour les évaluer avec les publics.",
        ("accepted",),
    ),
    DemoApplication(
        "lea.fontaine@ateliers.example",
        "Léa Fontaine",
        "",
        "Photographe",
        Audience.artist,
        Funding.other,
        "Mon travail photographique passe par le web ; je veux maîtriser licences et diffusion.",
        ("accepted",),
    ),
    DemoApplication(
        "paul.renaud@ateliers.example",
        "Paul Renaud",
        "Agence Pixel & Co",
        "Chef de projet web",
        Audience.other,
        Funding.employer,
        "Je travaille pour des clients culturels et souhaite mieux connaître leurs métiers.",
        ("rejected",),
    ),
    DemoApplication(
        "chloe.mercier@ateliers.example",
        "Chloé Mercier",
        "Scène nationale d'Orléans",
        "Responsable de la communication",
        Audience.culture_professional,
        Funding.employer,
        "Nos publics se renouvellent en ligne : je veux repenser notre présence numérique.",
        ("waitlisted",),
    ),
    DemoApplication(
        "hugo.perrin@ateliers.example",
        "Hugo Perrin",
        "Conseil départemental du Gers",
        "Chargé de mission lecture publique",
        Audience.public_decision_maker,
        Funding.employer,
        "Le réseau des bibliothèques du département lance un portail commun.",
        ("waitlisted",),
    ),
    DemoApplication(
        "manon.roux@ateliers.example",
        "Manon Roux",
        "Festival Images en marge",
        "Coordinatrice",
        Audience.culture_professional,
        Funding.self_funded,
        "Notre festival veut documenter ses éditions passées et les rendre consultables.",
        ("withdrawn",),
    ),
    DemoApplication(
        "yanis.chevalier@ateliers.example",
        "Yanis Chevalier",
        "Collectif Bruit Blanc",
        "Musicien",
        Audience.artist,
        Funding.self_funded,
        "Je compose pour des installations interactives et veux partager mes pratiques.",
    ),
    DemoApplication(
        "agathe.blanc@ateliers.example",
        "Agathe Blanc",
        "Archives municipales de Lille",
        "Archiviste",
        Audience.culture_professional,
        Funding.employer,
        "Nous ouvrons nos archives numérisées et devons choisir licences et formats.",
    ),
    DemoApplication(
        "gerard.dubois@ateliers.example",
        "Gérard Dubois",
        "Maison des jeunes et de la culture de Tulle",
        "Directeur",
        Audience.culture_professional,
        Funding.employer,
        "Dossier envoyé par la poste : notre MJC veut créer un atelier de création numérique.",
        paper_days_ago=3,
    ),
)


def _live_season(db: Session, session: TrainingSession, *, secretariat: User, now: datetime) -> None:
    """About a dozen applications to the next edition, in every state, made through the admission
    rules so that seats, waiting list and history agree; nothing when the session already has any."""
    today = paris_today(now)
    if session.status != SessionStatus.published or today > session.application_deadline:
        return  # an old seed's edition, no longer open: leave it as it is
    if db.exec(select(Application.id).where(Application.session_id == session.id)).first() is not None:
        return
    staff = Actor(user=secretariat, role=Role.secretariat)
    for entry in SEASON:
        account = DemoAccount(entry.email, SEASON_PASSWORD, entry.full_name, Role.applicant)
        applicant = _account(db, account, now=now)
        fields = {
            "motivation": entry.motivation,
            "organisation": entry.organisation,
            "job_title": entry.job_title,
            "audience": entry.audience,
            "funding": entry.funding,
            "billing": Billing(name=entry.full_name, organisation=entry.organisation, email=entry.email),
        }
        if entry.paper_days_ago is not None:
            assert applicant.id is not None
            data: ApplicationCreate = PaperApplicationCreate(
                channel="paper",
                applicant_id=applicant.id,
                postmarked_on=today - timedelta(days=entry.paper_days_ago),
                **fields,  # type: ignore[arg-type]
            )
            actor = staff
        else:
            data = ApplicationCreate(**fields)  # type: ignore[arg-type]
            actor = Actor(user=applicant, role=Role.applicant)
        application = submit_application(db, actor, str(session.id), data, now=now)
        for step in entry.outcome:
            if step == "withdrawn":
                withdraw_application(db, actor, application, now=now)
            else:
                decide_application(db, staff, application, Decision(step), "", now=now)
