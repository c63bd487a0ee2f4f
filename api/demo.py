"""The brochure's session, its next edition, its two discounts, and one demo account per role."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import cast

from sqlmodel import Session, select

from api.clock import paris_today
from api.security import Passwords
from api.services.applications import (
    decide_application,
    decide_discount,
    find_application,
    submit_application,
    withdraw_application,
)
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
from models.discount import Discount
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

# The brochure's words ("Les ateliers des cultures numériques #1", Observatoire des politiques
# culturelles), with its typographic apostrophes; line breaks of the print layout are joined.
_BROCHURE_SUMMARY = (
    "Cette session de formation aborde le numérique du point de vue de l’action publique "
    "culturelle : comment les cultures numériques et Internet transforment-ils les politiques et "
    "les projets de territoire ? Comment les collectivités et les opérateurs culturels "
    "peuvent-ils contribuer pleinement à cette transition numérique ?"
)

_BROCHURE_DESCRIPTION = """\
Formation organisée par l’Observatoire des politiques culturelles en collaboration avec l’office.

La formation a pour objectif de transmettre des outils de réflexion et d’examiner les bonnes \
pratiques liées au numérique, du point de vue des collectivités territoriales, des institutions \
publiques et des opérateurs privés.

Il s’agit notamment d’observer la manière dont Internet et les usages du numérique amènent à un \
renouvellement en profondeur des politiques et des projets culturels : en termes de contenus, de \
méthodes et de collaborations.

Des séquences de travail en petits groupes sont programmées tout au long de la semaine pour \
permettre aux participants de produire des projets ou scénarios sous forme de livrables \
multimédias. Les stagiaires s’appuieront sur les apports théoriques des meilleurs experts de la \
question numérique, ainsi que sur les expériences pratiques menées par les collectivités et \
structures rencontrées, ou par les participants eux-mêmes.

Pourquoi cette formation ?
- Pour considérer le numérique comme un enjeu culturel
- Pour apprendre à travailler ensemble différemment : une formation itérative et collaborative à \
l’image du web 2.0 : un espace de réflexion, d’innovation et de production, où le groupe est \
coproducteur de contenus écrits (méthodologie d’intervention territoriale, orientations et \
argumentation de politique publique, scénarios de projets…)
- Pour mobiliser les acteurs de la culture et leur donner des capacités d’action sur les \
transformations liées au numérique
- Pour contribuer à alimenter des programmes et dispositifs publics autour du numérique
- Pour penser le secteur culturel au cœur d’un écosystème
- Pour appréhender les nouvelles missions des opérateurs et des équipements culturels, \
l’évolution des métiers et les outils à construire
- Pour envisager de nouveaux espaces de production, de médiation et de valorisation des \
cultures numériques

Intervenants
En fonction des thématiques abordées, des intervenants de référence ont été sélectionnés : \
enseignants-chercheurs, professionnels, agents des collectivités publiques, experts \
pluridisciplinaires, etc.

Encadrement
Les ateliers des cultures numériques sont encadrés par Vincent Guillon, directeur adjoint de \
l’OPC, et Alice-Anne Jeandel, responsable des formations. Ils sont animés en collaboration avec \
l’office (www.loffice.coop/wiki/doku.php). Le secrétariat de la formation est assuré par Samia \
Hamouda.

Suivi de la formation
- Évaluation par l’équipe pédagogique des productions des stagiaires réalisées au cours de la \
formation
- Certificat de formation délivré par l’Observatoire

Mode de recrutement
Sur dossier de candidature (voir sur le site www.observatoire-culture.net)"""

_PROGRAMME = {
    "subtitle": "Projets culturels de territoire à l’ère du numérique",
    "summary": _BROCHURE_SUMMARY,
    "description": _BROCHURE_DESCRIPTION,
    "objectives": [
        "Repenser les projets culturels de territoire et les politiques culturelles à l’ère du numérique",
        "Comprendre et interpréter la transition numérique et son impact sociétal",
        "Alimenter une vision politique et des orientations pour l’action des collectivités, des "
        "équipements et des opérateurs culturels",
        "Acquérir une méthode de travail dans un esprit collaboratif",
        "Élaborer des plans d’action, des scénarios d’intervention, des projets…",
    ],
    "audiences": [
        "Professionnels de la culture",
        "Décideurs publics, chargés de mission et élus dans les domaines des politiques culturelles, "
        "de l’éducation populaire, du numérique et de l’économie créative",
        "Artistes",
    ],
    # "Axes et contenus de la formation".
    "topics": [
        "Controverses et clivages autour du numérique",
        "Impact du numérique sur les pratiques et les comportements culturels",
        "Création artistique et industries créatives",
        "Usages numériques des jeunes générations",
        "Nouveaux enjeux pour l’éducation et la médiation",
        "Cultures libres",
        "Économie collaborative",
        "Programmes européens, nationaux et locaux en faveur du numérique",
        "Intervention des collectivités publiques : acteurs et expériences en cours",
        "Méthodologies de projet",
    ],
    # "Méthode, pédagogie".
    "methods": [
        "Interventions théoriques",
        "Études de cas pratiques",
        "Séquences de travail en petits groupes sur la réalisation de livrables multimédias",
        "Dossier documentaire",
        "Animation : 2 encadrants et animateurs",
    ],
    "hours": 45,
    # The brochure gives no hours of the day; 45 hours over 6 days.
    "daily_start_time": time(9, 30),
    "daily_end_time": time(17, 30),
    "city": "Paris",
    "venue": "",
    "address": "Paris",
    "capacity": 25,
    "price_cents": 200_000,
    "currency": "EUR",
    # "Ces frais ne comprennent pas les frais de déplacement, de repas et d’hébergement."
    "price_excludes": ["déplacement", "repas", "hébergement"],
    "postmark_counts": True,
    "contact_email": "formations@observatoire-culture.net",
    "contact_phone": "+33 (0)4 76 44 33 26",
}


@dataclass(frozen=True)
class BrochureDiscount:
    code: str
    label: str
    eligibility: str


# "Les abonnés à l’Idéothèque et les anciens stagiaires de l’OPC (adhérents à l’association
# Réseau) peuvent bénéficier d’une réduction de 10 %." One per application: they do not stack.
BROCHURE_DISCOUNTS = (
    BrochureDiscount(
        "ABONNE-IDEOTHEQUE",
        "Abonnés à l’Idéothèque",
        "Les abonnés à l’Idéothèque peuvent bénéficier d’une réduction de 10 %. "
        "Non cumulable avec la réduction des anciens stagiaires.",
    ),
    BrochureDiscount(
        "ANCIENS",
        "Anciens stagiaires de l’OPC",
        "Les anciens stagiaires de l’OPC (adhérents à l’association Réseau) peuvent bénéficier "
        "d’une réduction de 10 %. Non cumulable avec la réduction des abonnés à l’Idéothèque.",
    ),
)
BROCHURE_DISCOUNT_PERCENT = Decimal("10")


def _account(db: Session, account: DemoAccount, *, now: datetime, passwords: Passwords) -> User:
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
        passwords=passwords,
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


def seed_brochure_discounts(db: Session, *, now: datetime) -> list[Discount]:
    """The brochure's two 10 % discounts, for every session, on proof; existing codes are kept."""
    discounts = []
    for offer in BROCHURE_DISCOUNTS:
        discount = db.exec(select(Discount).where(Discount.code == offer.code)).first()
        if discount is None:
            discount = Discount(
                code=offer.code,
                label=offer.label,
                percent=BROCHURE_DISCOUNT_PERCENT,
                eligibility=offer.eligibility,
                requires_proof=True,
                session_id=None,
                active=True,
                created_at=now,
                updated_at=now,
            )
            db.add(discount)
            db.flush()
        discounts.append(discount)
    return discounts


def seed_demo(db: Session, *, now: datetime, passwords: Passwords) -> list[DemoAccount]:
    """Load the demo data; what already exists is left as it is, so a second run changes nothing."""
    users = {account.email: _account(db, account, now=now, passwords=passwords) for account in DEMO_ACCOUNTS}
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
    seed_brochure_discounts(db, now=now)
    _live_season(db, next_edition, secretariat=users[DEMO_ACCOUNTS[0].email], now=now, passwords=passwords)
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
    # A brochure discount claimed with the file, and the secretariat's answer (None: not yet).
    discount_code: str | None = None
    discount_approved: bool | None = None


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
        discount_code="ABONNE-IDEOTHEQUE",
        discount_approved=True,
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
        discount_code="ANCIENS",
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
        discount_code="ANCIENS",
        discount_approved=False,
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


def _live_season(
    db: Session, session: TrainingSession, *, secretariat: User, now: datetime, passwords: Passwords
) -> None:
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
        applicant = _account(db, account, now=now, passwords=passwords)
        fields = {
            "motivation": entry.motivation,
            "organisation": entry.organisation,
            "job_title": entry.job_title,
            "audience": entry.audience,
            "funding": entry.funding,
            "billing": Billing(name=entry.full_name, organisation=entry.organisation, email=entry.email),
            "discount_code": entry.discount_code,
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
        submitted = submit_application(db, actor, str(session.id), data, now=now)
        # Loaded into this session: the row answered is built from the values, detached.
        application = find_application(db, cast(int, submitted.id))
        if entry.discount_approved is not None:
            note = "Justificatif reçu." if entry.discount_approved else "Aucun justificatif fourni."
            decide_discount(db, staff, application, approved=entry.discount_approved, note=note, now=now)
        for step in entry.outcome:
            if step == "withdrawn":
                withdraw_application(db, actor, application, now=now)
            else:
                decide_application(db, staff, application, Decision(step), "", now=now)
