"""The brochure's session, its next edition, its two discounts, and one demo account per role."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from api.clock import paris_today
from api.services.sessions import assign_trainers, change_status, create_session
from api.services.users import create_user, find_user_by_email
from models.discount import Discount
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
    seed_brochure_discounts(db, now=now)
    return list(DEMO_ACCOUNTS)
