"""The benchmark's database: a catalogue, applicants, applications and quotes of realistic size.

Rows go in through SQLAlchemy Core `insert()` executemany, after `alembic upgrade head`, so that
seeding 100,000 applications takes seconds; every row still satisfies the models' constraints
(the live-application unique index, accepted seats within capacity, contiguous waiting lists,
numbered quotes behind the year's counter).
"""

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, create_engine, insert, null, select
from sqlmodel import Session, SQLModel

import models  # noqa: F401  (every table registered on the metadata)
from alembic import command
from api.cli import alembic_config
from api.clock import paris_today
from api.config import Settings
from api.demo import seed_brochure_discounts
from api.documents.layout import Organisation
from api.security import Passwords
from api.services.quotes import VAT_NOTE, VAT_RATE, percent_off
from api.services.sessions import fold_for_search
from models.training_session import SessionAsIssued

SECRETARIAT_EMAIL = "secretariat@bench.example"
SECRETARIAT_PASSWORD = "bench-secretariat-password"
APPLICANT_EMAIL = "applicant-00000@bench.example"
APPLICANT_PASSWORD = "bench-applicant-password"

CITIES_ELSEWHERE = ("Lyon", "Grenoble", "Marseille", "Bordeaux", "Lille", "Nantes")
CAPACITY = 25
PRICE_CENTS = 200_000
LIVE_STATUSES = ("submitted", "accepted", "waitlisted")
# The identity the bench's server prints (the settings' defaults), kept by the issued quotes it seeds.
ORGANISATION = Organisation(
    **{field: Settings.model_fields[f"org_{field}"].default for field in Organisation.__dataclass_fields__}
).as_issued()


@dataclass(frozen=True)
class SeedPlan:
    """How big the database is."""

    applications: int = 20_000
    applicants: int = 3_000
    quotes: int = 5_000
    draft_quotes: int = 4_000
    # Accounts with no application yet, each applying to every open session during the bench.
    fresh_applicants: int = 1_500
    # 60 visible (published, closed, completed); only published ones can be open, so the open
    # Paris sessions are a part of them, enough for more than a page of the filtered listing.
    sessions: int = 200
    published: int = 44
    paris_published: int = 30
    closed: int = 8
    completed: int = 8
    cancelled: int = 30
    # The session the secretariat lists and the applicant who lists its own: fixed sizes, so that
    # databases of different sizes are compared on the same page.
    target_session_applications: int = 200
    own_applications: int = 5


@dataclass
class Seeded:
    """What the workloads need to know about the seeded rows."""

    visible_slugs: list[str]
    open_session_ids: list[int]
    paris_open: int
    target_session_id: int
    own_applicant_id: int
    fresh_applicant_ids: list[int]
    draft_quote_ids: list[int]
    counts: dict[str, int] = field(default_factory=dict)


def migrate(url: str) -> None:
    """`alembic upgrade head`, as `ateliers migrate` does."""
    command.upgrade(alembic_config(url), "head")


def _table(name: str) -> Any:
    return SQLModel.metadata.tables[name]


def _insert(engine: Engine, table: str, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in one executemany and return their ids, in insertion order."""
    if not rows:
        return []
    target = _table(table)
    with engine.begin() as connection:
        before = connection.execute(select(target.c.id).order_by(target.c.id.desc()).limit(1)).scalar()
        connection.execute(insert(target), rows)
        ids = connection.execute(
            select(target.c.id).where(target.c.id > (before or 0)).order_by(target.c.id)
        ).scalars()
        found = list(ids)
    assert len(found) == len(rows), f"{table}: inserted {len(rows)} rows, found {len(found)}"
    return found


def _sessions(plan: SeedPlan, *, today: date, now: datetime) -> tuple[list[dict[str, Any]], list[str]]:
    """Session rows, in the order: published (Paris first), closed, completed, cancelled, drafts."""
    rows: list[dict[str, Any]] = []
    statuses: list[str] = []
    drafts = plan.sessions - plan.published - plan.closed - plan.completed - plan.cancelled
    kinds = (
        [("published", n < plan.paris_published) for n in range(plan.published)]
        + [("closed", False)] * plan.closed
        + [("completed", False)] * plan.completed
        + [("cancelled", False)] * plan.cancelled
        + [("draft", False)] * drafts
    )
    for n, (status, paris) in enumerate(kinds, start=2):
        if status == "completed":
            start = today - timedelta(days=40 + 7 * n)
        else:
            start = today + timedelta(days=30 + 3 * n)
        # Half of the sessions the public does not see are in Paris too, as the city filter meets them.
        city = (
            "Paris"
            if paris or (status in ("draft", "cancelled") and n % 2 == 0)
            else (CITIES_ELSEWHERE[n % len(CITIES_ELSEWHERE)])
        )
        title = f"Les ateliers des cultures numériques #{n}"
        subtitle = "Comprendre et pratiquer les cultures numériques"
        summary = "Six jours pour explorer les pratiques numériques des arts et de la culture."
        rows.append(
            {
                "slug": f"les-ateliers-des-cultures-numeriques-{n}",
                "title": title,
                "subtitle": subtitle,
                "summary": summary,
                "description": "Alternant apports théoriques et ateliers pratiques, la formation conduit "
                "chaque groupe à réaliser une production collective. " * 6,
                "objectives": [
                    "Comprendre les mutations des pratiques culturelles à l'ère numérique",
                    "Concevoir un projet culturel numérique",
                    "Expérimenter les outils de la médiation en ligne",
                ],
                "audiences": ["Professionnels de la culture", "Décideurs publics", "Artistes"],
                "topics": ["Cultures et usages numériques", "Médiation", "Droit et économie"],
                "methods": ["Ateliers pratiques en petits groupes", "Études de cas"],
                "start_date": start,
                "end_date": start + timedelta(days=5),
                "daily_start_time": time(9, 30),
                "daily_end_time": time(17, 30),
                "days": 6,
                "hours": 45,
                "city": city,
                "venue": "La Gaîté Lyrique" if city == "Paris" else "Centre de formation",
                "address": f"3 bis rue Papin, 75003 {city}",
                "capacity": CAPACITY,
                "accepted_count": 0,
                "price_cents": PRICE_CENTS,
                "currency": "EUR",
                "price_excludes": ["transport", "repas", "hébergement"],
                "application_deadline": start - timedelta(days=14),
                "postmark_counts": True,
                "status": status,
                "contact_email": "formations@observatoire-culture.net",
                "contact_phone": "+33 (0)4 76 44 33 26",
                "search_text": fold_for_search(" ".join((title, subtitle, summary))),
                "created_at": now - timedelta(days=200),
                "updated_at": now - timedelta(days=100),
            }
        )
        statuses.append(status)
    return rows, statuses


# Hashed at the settings' default cost, the bench server's: its logins cost what production's do.
_COSTS = ("time_cost", "memory_kib", "parallelism")
PASSWORDS = Passwords(**{name: Settings.model_fields[f"password_hash_{name}"].default for name in _COSTS})


def _users(plan: SeedPlan, *, now: datetime) -> tuple[list[dict[str, Any]], int]:
    """The secretariat, trainers and applicants; returns the rows and the number of trainers."""
    # Argon2 costs tens of ms a hash: only the accounts that log in get their own.
    shared_hash = PASSWORDS.hash("an applicant who never logs in during the bench")
    trainers = 8

    def user(email: str, name: str, role: str, password_hash: str) -> dict[str, Any]:
        return {
            "email": email,
            "full_name": name,
            "password_hash": password_hash,
            "role": role,
            "active": True,
            "token_version": 0,
            "created_at": now - timedelta(days=300),
            "updated_at": now - timedelta(days=300),
        }

    secretariat_hash = PASSWORDS.hash(SECRETARIAT_PASSWORD)
    rows = [user(SECRETARIAT_EMAIL, "Claire Secrétariat", "secretariat", secretariat_hash)]
    rows += [
        user(f"trainer-{n}@bench.example", f"Formatrice {n}", "trainer", shared_hash) for n in range(trainers)
    ]
    rows.append(user(APPLICANT_EMAIL, "Camille Durand", "applicant", PASSWORDS.hash(APPLICANT_PASSWORD)))
    total = plan.applicants + plan.fresh_applicants
    rows += [
        user(f"applicant-{n:05d}@bench.example", f"Candidate {n}", "applicant", shared_hash)
        for n in range(1, total)
    ]
    return rows, trainers


def _pairs(
    plan: SeedPlan, sessions: list[int], applicants: list[int], rng: random.Random
) -> list[tuple[int, int]]:
    """(session, applicant) pairs, each at most once: the target session's fixed share, the own
    applicant's few, and the rest drawn among the other sessions and applicants."""
    target, others = sessions[0], sessions[1:]
    own, rest = applicants[0], applicants[1:]
    pairs = [(target, applicant) for applicant in rest[: plan.target_session_applications]]
    pairs += [(session, own) for session in others[: plan.own_applications]]
    wanted = plan.applications - len(pairs)
    space = len(others) * len(rest)
    if wanted > space:
        raise ValueError(f"{plan.applications} applications do not fit {space} (session, applicant) pairs")
    for k in rng.sample(range(space), wanted):
        pairs.append((others[k % len(others)], rest[k // len(others)]))
    rng.shuffle(pairs)
    return pairs


def seed(url: str, plan: SeedPlan, *, now: datetime | None = None) -> Seeded:
    """Migrate the database at `url` and fill it according to `plan`."""
    now = now or datetime.now(UTC)
    today = paris_today(now)
    rng = random.Random(2016)
    migrate(url)
    engine = create_engine(url)
    try:
        seeded = _fill(engine, plan, rng, now=now, today=today)
        _settle(engine)
        return seeded
    finally:
        engine.dispose()


def _settle(engine: Engine) -> None:
    """Leave the database as one in service is: on PostgreSQL, statistics gathered and the bulk
    load's pages vacuumed and written out (otherwise autovacuum and the checkpoint of the seeding
    ran during the first workloads, on the same two cores); on SQLite, the write-ahead log folded in."""
    if engine.dialect.name != "postgresql":
        with engine.connect() as connection:
            # The server's connections keep the write-ahead log open; fold it into the database.
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
        connection.exec_driver_sql("CHECKPOINT")


def _fill(engine: Engine, plan: SeedPlan, rng: random.Random, *, now: datetime, today: date) -> Seeded:
    session_rows, statuses = _sessions(plan, today=today, now=now)
    session_ids = _insert(engine, "training_session", session_rows)
    with engine.begin() as connection:
        # The migration made the version row; the sessions change what the listing shows.
        version = _table("catalogue_version")
        connection.execute(version.update().values(version=version.c.version + 1))

    user_rows, trainers = _users(plan, now=now)
    user_ids = _insert(engine, "user_account", user_rows)
    trainer_ids = user_ids[1 : 1 + trainers]
    applicant_ids = user_ids[1 + trainers :]
    known, fresh = applicant_ids[: plan.applicants], applicant_ids[plan.applicants :]
    links = [
        {"session_id": session, "user_id": trainer_ids[(n + k) % trainers]}
        for n, session in enumerate(session_ids)
        for k in (0, 3)
    ]
    with engine.begin() as connection:
        connection.execute(insert(_table("session_trainer")), links)

    with Session(engine) as db:
        discounts = seed_brochure_discounts(db, now=now)
        db.commit()
        brochure = [(d.id, d.code) for d in discounts]
    _insert(
        engine,
        "discount",
        [
            {
                "code": "RENTREE",
                "label": "Inscription avant la rentrée",
                "percent": None,
                "amount_cents": 15_000,
                "eligibility": "Toute inscription reçue avant le 1er septembre.",
                "requires_proof": False,
                "session_id": session_ids[0],
                "valid_from": None,
                "valid_until": None,
                "active": True,
                "created_at": now,
                "updated_at": now,
            },
            {
                "code": "ANCIEN-TARIF",
                "label": "Ancien tarif",
                "percent": Decimal("5"),
                "amount_cents": None,
                "eligibility": "Remplacée par les réductions de la brochure.",
                "requires_proof": False,
                "session_id": None,
                "valid_from": None,
                "valid_until": None,
                "active": False,
                "created_at": now,
                "updated_at": now,
            },
        ],
    )

    status_of = dict(zip(session_ids, statuses, strict=True))
    # Applications reach published sessions, and those that later closed, completed or were cancelled.
    applied_to = [s for s in session_ids if status_of[s] != "draft"]
    pairs = _pairs(plan, applied_to, known, rng)
    accepted: dict[int, int] = defaultdict(int)
    waitlisted: dict[int, int] = defaultdict(int)
    application_rows: list[dict[str, Any]] = []
    for session, applicant in pairs:
        roll = rng.random()
        status = "submitted"
        if roll < 0.12 and accepted[session] < CAPACITY:
            status = "accepted"
            accepted[session] += 1
        elif roll < 0.20:
            status = "rejected"
        elif roll < 0.25:
            status = "waitlisted"
            waitlisted[session] += 1
        elif roll < 0.31:
            status = "withdrawn"
        discount_id, code = brochure[0] if roll > 0.9 else brochure[1] if roll > 0.85 else (None, None)
        submitted = now - timedelta(days=rng.randint(1, 90), minutes=rng.randint(0, 1440))
        application_rows.append(
            {
                "session_id": session,
                "applicant_id": applicant,
                "status": status,
                "channel": "online" if roll < 0.95 else "paper",
                "submitted_at": submitted,
                "postmarked_on": submitted.date() if roll >= 0.95 else None,
                "motivation": "Je coordonne la médiation numérique du musée et souhaite concevoir un "
                "parcours en ligne avec nos publics.",
                "organisation": "Musée des Beaux-Arts de Lyon",
                "job_title": "Chargée de médiation",
                "audience": ("culture_professional", "public_decision_maker", "artist", "other")[
                    applicant % 4
                ],
                "funding": ("self", "employer", "other")[applicant % 3],
                "billing_name": "Service formation",
                "billing_organisation": "Musée des Beaux-Arts de Lyon",
                "billing_address": "20 place des Terreaux, 69001 Lyon",
                "billing_email": "formation@mba-lyon.example",
                "discount_code": code,
                "discount_id": discount_id,
                "discount_status": "none" if code is None else "approved" if roll > 0.95 else "claimed",
                "waitlist_position": waitlisted[session] if status == "waitlisted" else None,
                "decided_at": None if status in ("submitted", "withdrawn") else submitted + timedelta(days=3),
                "decision_note": "",
                "created_at": submitted,
                "updated_at": submitted,
            }
        )
    application_ids = _insert(engine, "application", application_rows)
    events = [
        {
            "application_id": application_id,
            "at": row["submitted_at"],
            "actor_id": row["applicant_id"],
            "kind": "status",
            "from_status": None,
            "to_status": "submitted",
            "note": "",
        }
        for application_id, row in zip(application_ids, application_rows, strict=True)
    ]
    events += [
        {
            "application_id": application_id,
            "at": row["decided_at"] or row["updated_at"],
            "actor_id": user_ids[0],
            "kind": "status",
            "from_status": "submitted",
            "to_status": row["status"],
            "note": "",
        }
        for application_id, row in zip(application_ids, application_rows, strict=True)
        if row["status"] != "submitted"
    ]
    _insert(engine, "application_event", events)
    with engine.begin() as connection:
        table = _table("training_session")
        for session, count in accepted.items():
            connection.execute(table.update().where(table.c.id == session).values(accepted_count=count))

    # A cancelled session takes no quote (409 session_not_open): its applications get none.
    printed = {
        id_: _printed_session(row)
        for id_, row in zip(session_ids, session_rows, strict=True)
        if row["status"] != "cancelled"
    }
    draft_ids = _quotes(engine, plan, application_ids, application_rows, printed, rng, now=now, today=today)
    open_ids = [s for s in session_ids if status_of[s] == "published"]
    visible = [r["slug"] for r in session_rows if r["status"] in ("published", "closed", "completed")]
    return Seeded(
        visible_slugs=visible,
        open_session_ids=open_ids,
        paris_open=plan.paris_published,
        target_session_id=applied_to[0],
        own_applicant_id=known[0],
        fresh_applicant_ids=fresh,
        draft_quote_ids=draft_ids,
        counts={
            "sessions": len(session_ids),
            "visible sessions": len(visible),
            "open sessions": len(open_ids),
            "sessions in Paris": sum(1 for r in session_rows if r["city"] == "Paris"),
            "users": len(user_ids),
            "applicants": len(applicant_ids),
            "applications": len(application_ids),
            "application events": len(events),
            "discounts": len(brochure) + 2,
            "quotes": plan.quotes,
            "draft quotes": len(draft_ids),
        },
    )


def _quotes(
    engine: Engine,
    plan: SeedPlan,
    application_ids: list[int],
    application_rows: list[dict[str, Any]],
    printed: dict[int, dict[str, Any]],
    rng: random.Random,
    *,
    now: datetime,
    today: date,
) -> list[int]:
    """Quotes on live applications: drafts (which the bench issues) then issued ones, numbered
    DEV-YYYY-NNNN behind the year's counter so that the next issue continues the sequence."""
    live = [
        (application_id, row)
        for application_id, row in zip(application_ids, application_rows, strict=True)
        if row["status"] in LIVE_STATUSES and row["session_id"] in printed
    ]
    chosen = rng.sample(live, min(plan.quotes, len(live)))
    rows: list[dict[str, Any]] = []
    issued = 0
    for n, (application_id, application) in enumerate(chosen):
        created = now - timedelta(days=rng.randint(1, 60))
        row = _draft_quote(application_id, application, created=created)
        if n >= plan.draft_quotes:
            issued += 1
            row |= {
                "number": f"DEV-{today.year}-{issued:04d}",
                "status": ("issued", "issued", "accepted", "declined", "cancelled")[n % 5],
                "issued_at": created,
                "as_issued": {"organisation": ORGANISATION, "session": printed[application["session_id"]]},
                "valid_until": today + timedelta(days=30 - n % 40),
                "accepted_at": created + timedelta(days=1) if n % 5 == 2 else None,
                "declined_at": created + timedelta(days=1) if n % 5 == 3 else None,
                "cancelled_at": created + timedelta(days=1) if n % 5 == 4 else None,
            }
        rows.append(row)
    ids = _insert(engine, "quote", rows)
    with engine.begin() as connection:
        connection.execute(
            insert(_table("quote_number_counter")), [{"year": today.year, "last_number": issued}]
        )
    return ids[: plan.draft_quotes]


def _printed_session(row: dict[str, Any]) -> dict[str, Any]:
    """What an issued quote keeps of its session (models.training_session.SessionAsIssued), as JSON."""
    return SessionAsIssued.model_validate(row).model_dump(mode="json")


def _draft_quote(application_id: int, application: dict[str, Any], *, created: datetime) -> dict[str, Any]:
    """A draft quote for `application`, at the brochure's price less its approved discount."""
    lines = [
        {
            "label": "Les ateliers des cultures numériques — 6 jours, 45 heures",
            "quantity": 1,
            "unit_price_cents": PRICE_CENTS,
            "amount_cents": PRICE_CENTS,
        }
    ]
    off = 0
    if application["discount_status"] == "approved":
        off = percent_off(PRICE_CENTS, Decimal(10))
        lines.append(
            {"label": "Réduction : 10 %", "quantity": 1, "unit_price_cents": -off, "amount_cents": -off}
        )
    return {
        "number": None,
        "application_id": application_id,
        "session_id": application["session_id"],
        "applicant_id": application["applicant_id"],
        "status": "draft",
        "billed_name": application["billing_name"],
        "billed_organisation": application["billing_organisation"],
        "billed_address": application["billing_address"],
        "billed_email": application["billing_email"],
        "lines": lines,
        "subtotal_cents": PRICE_CENTS,
        "discount_cents": off,
        "total_cents": PRICE_CENTS - off,
        "currency": "EUR",
        "discount_id": application["discount_id"] if off else None,
        "vat_rate": VAT_RATE,
        "vat_note": VAT_NOTE,
        "notes": ["Le prix ne comprend pas : transport, repas, hébergement."],
        "issued_at": None,
        "as_issued": null(),  # SQL NULL, as a draft made through the API has
        "valid_until": None,
        "accepted_at": None,
        "declined_at": None,
        "cancelled_at": None,
        "created_at": created,
        "updated_at": created,
    }


def add_draft_quotes(url: str, count: int, *, now: datetime | None = None) -> list[int]:
    """`count` more drafts on the database's live applications, for a run that issues them all:
    made just before that run, so that every other workload reads a database of the planned size."""
    now = now or datetime.now(UTC)
    application = _table("application")
    session = _table("training_session")
    columns = [
        "id",
        "session_id",
        "applicant_id",
        "discount_status",
        "discount_id",
        "billing_name",
        "billing_organisation",
        "billing_address",
        "billing_email",
    ]
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            live = [
                row._asdict()
                for row in connection.execute(
                    select(*(application.c[name] for name in columns))
                    .join(session, session.c.id == application.c.session_id)
                    .where(application.c.status.in_(LIVE_STATUSES), session.c.status != "cancelled")
                    .order_by(application.c.id)
                )
            ]
        rows = [
            _draft_quote(live[n % len(live)]["id"], live[n % len(live)], created=now) for n in range(count)
        ]
        ids = _insert(engine, "quote", rows)
        _settle(engine)
        return ids
    finally:
        engine.dispose()
