"""The list pages cost the same at a thousand applications and at a hundred thousand: every query
they run reads `application` (or `quote`) through an index search bounded by the list's most
selective filter (the session, the applicant, the status), never the whole table, and a page comes
in index order so that LIMIT stops the reading after one page.

How: the test fills the database with a realistic volume by bulk Core inserts (20,000
applications over 200 sessions of 100, in date order: the past sessions decided, the pending files
in the five open ones; 5,000 applicants; 5,000 quotes, mostly answered), asks each list through
HTTP as the secretariat, an applicant or a trainer, captures the SQL the app sends
(`before_cursor_execute` on `app.state.engine`), and has the same database explain each statement
that reads `application` or `quote`, with the parameters it was sent with.

- PostgreSQL: after VACUUM ANALYZE (what autovacuum does to a production table), so the planner
  chooses with true statistics (a tiny table gets a Seq Scan whatever its indexes). Failing: a
  scan of the table whose Index Cond (or a bitmap's Recheck Cond) does not bound the case's key:
  a Seq Scan, a walk of the primary key filtering as it goes, a search on a weaker column.
- SQLite: without ANALYZE, since the service never runs it and production plans without
  sqlite_stat1. Failing: `SCAN <table>`, with or without `USING INDEX`, and a `SEARCH` whose
  constraints do not include the case's key (the trap: the trainer's page searching
  `status=?` walks every accepted application of every session, in id order).

Also failing on a page (not on its count): a sort of the matching rows (`USE TEMP B-TREE FOR
ORDER BY`; on PostgreSQL, a Sort left in the plan when sorting is disabled, since the planner may
rightly sort a few dozen rows but must have an index that gives them in order). The trainer's
list is the exception: its page is merged from one index range per taught session and sorted, a
set bounded by those sessions' capacity. Expired quotes are spread evenly through the table: there
PostgreSQL may walk the primary key for a page, about LIMIT / fraction rows whatever the size.

Accepted walks: the secretariat's unfiltered page walks the primary key in id order and stops
after LIMIT rows; its `total` counts the whole table, a cost that grows with the data and is the
price of showing that total (only on the unfiltered list). A filtered `total` reads the index range
of its filter, which grows with the rows that match, never with the table. OFFSET reads and drops
the rows before the page: its cost is the offset's, whatever the table holds.

No timings are measured: plans are what does not depend on the machine.
"""

import json
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, event, insert, select
from sqlmodel import SQLModel

import models  # noqa: F401  (every table in the metadata)
from tests.factories import published_session

SESSIONS = 200  # in date order: the last few are open, the others are over
CURRENT = 5
PER_SESSION = 100  # 20,000 applications
APPLICANTS = 5_000  # each applies to four sessions
QUOTE_EVERY = 4  # 5,000 quotes
# Years of sessions: the past ones are decided (a few stayed on the waiting list), and the files
# still waiting for a decision are the open sessions' few. The lists must stay cheap for those.
PAST = {"rejected": 58, "accepted": 25, "withdrawn": 15, "waitlisted": 2}
OPEN = {"submitted": 60, "waitlisted": 10, "accepted": 15, "rejected": 10, "withdrawn": 5}
# Most quotes were answered; some issued ones were never answered and expired; drafts are recent.
PAST_QUOTES = {"accepted": 70, "declined": 15, "cancelled": 10, "issued": 5}
OPEN_QUOTES = {"draft": 30, "issued": 50, "accepted": 20}
NOW = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
TODAY = date(2027, 1, 14)  # the test clock's day
WATCHED = re.compile(r"\b(application|quote)\b")


@dataclass(frozen=True)
class Case:
    """One list request, and how its queries may read the table."""

    name: str
    role: str
    path: str
    params: dict[str, Any]
    # The columns an index search must be bounded by: the list's most selective filter.
    # Empty for the unfiltered list, whose page walks the primary key and whose count reads all.
    keys: frozenset[str]
    # False where the page is merged from several index ranges and sorted (the trainer's).
    ordered: bool = True
    # The matches are a steady fraction of every stretch of the table (expired quotes: the old
    # unanswered ones): PostgreSQL may walk the primary key for a page, about LIMIT / fraction
    # rows whatever the size. SQLite must still search its index.
    spread: bool = False


def _cases(session_id: int, taught_id: int) -> list[Case]:
    session, status, applicant = frozenset({"session_id"}), frozenset({"status"}), frozenset({"applicant_id"})
    return [
        Case("secretariat, a session", "secretariat", "/applications", {"session_id": session_id}, session),
        Case(
            "secretariat, a session and a status",
            "secretariat",
            "/applications",
            {"session_id": session_id, "status": "submitted"},
            session,
        ),
        Case("secretariat, a status", "secretariat", "/applications", {"status": "submitted"}, status),
        Case("secretariat, a rare status", "secretariat", "/applications", {"status": "waitlisted"}, status),
        Case("secretariat, everything", "secretariat", "/applications", {}, frozenset()),
        Case("applicant, its own", "applicant", "/applications", {}, applicant),
        Case("applicant, its own by status", "applicant", "/applications", {"status": "accepted"}, applicant),
        Case(
            "applicant, its own in a session",
            "applicant",
            "/applications",
            {"session_id": session_id},
            applicant | session,
        ),
        Case("trainer, its trainees", "trainer", "/applications", {}, session, ordered=False),
        Case(
            "trainer, one session",
            "trainer",
            "/applications",
            {"session_id": taught_id},
            session,
            ordered=False,
        ),
        Case("quotes, secretariat, a session", "secretariat", "/quotes", {"session_id": session_id}, session),
        Case("quotes, secretariat, a status", "secretariat", "/quotes", {"status": "draft"}, status),
        Case(
            "quotes, secretariat, expired",
            "secretariat",
            "/quotes",
            {"status": "expired"},
            status,
            spread=True,
        ),
        Case(
            "quotes, secretariat, a session and a status",
            "secretariat",
            "/quotes",
            {"session_id": session_id, "status": "accepted"},
            session,
        ),
        Case("quotes, secretariat, everything", "secretariat", "/quotes", {}, frozenset()),
        Case("quotes, applicant, its own", "applicant", "/quotes", {}, applicant),
        Case(
            "quotes, applicant, its own by status", "applicant", "/quotes", {"status": "accepted"}, applicant
        ),
    ]


def _fill(
    app: FastAPI, secretariat: TestClient, applicant: TestClient, trainer: TestClient
) -> tuple[int, int]:
    """The realistic volume, in bulk, ids in date order; the id of an open session the applicant
    applied to, and of one the trainer teaches."""
    engine: Engine = app.state.engine
    first = published_session(secretariat)
    draw = random.Random(2016)  # the same data on every run
    tables = SQLModel.metadata.tables
    sessions, users, table = tables["training_session"], tables["user_account"], tables["application"]
    with engine.begin() as connection:
        template = dict(
            connection.execute(select(sessions).where(sessions.c.id == first["id"])).mappings().one()
        )
        del template["id"]
        connection.execute(
            insert(sessions),
            [
                {**template, "slug": f"{template['slug']}-{n}", "title": f"Atelier {n}"}
                for n in range(1, SESSIONS)
            ],
        )
        session_ids = list(connection.scalars(select(sessions.c.id).order_by(sessions.c.id)))
        connection.execute(insert(users), [_user_row(n) for n in range(APPLICANTS)])
        applicant_ids = list(
            connection.scalars(
                select(users.c.id).where(users.c.email.like("candidat-%")).order_by(users.c.id)
            )
        )
        rows = []
        for number, session_id in enumerate(session_ids):
            weights = OPEN if number >= SESSIONS - CURRENT else PAST
            for seat in range(PER_SESSION):
                someone = applicant_ids[(number * PER_SESSION // 4 + seat) % APPLICANTS]
                rows.append(_application_row(session_id, someone, _pick(draw, weights)))
            if number == SESSIONS - CURRENT - 1:  # the logged-in applicant: one past, five open
                mine = ["accepted", "submitted", "rejected", "waitlisted", "withdrawn", "accepted"]
                rows += [
                    _application_row(s, applicant.user["id"], status)
                    for s, status in zip(session_ids[-CURRENT - 1 :], mine, strict=True)
                ]
        connection.execute(insert(table), rows)
        written = list(
            connection.execute(
                select(table.c.id, table.c.session_id, table.c.applicant_id).order_by(table.c.id)
            )
        )
        quoted = written[::QUOTE_EVERY] + [row for row in written if row.applicant_id == applicant.user["id"]]
        connection.execute(
            insert(tables["quote"]),
            [
                _quote_row(n, *row, recent=recent, status=_pick(draw, OPEN_QUOTES if recent else PAST_QUOTES))
                for n, row in enumerate(quoted)
                for recent in [n >= len(quoted) * 0.97]
            ],
        )
        taught = [session_ids[-CURRENT - 2], session_ids[-2]]  # one over, one open
        connection.execute(
            insert(tables["session_trainer"]),
            [{"session_id": s, "user_id": trainer.user["id"]} for s in taught],
        )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    return session_ids[-1], taught[0]


def _pick(draw: random.Random, weights: dict[str, int]) -> str:
    return draw.choices(list(weights), weights=list(weights.values()))[0]


def _user_row(number: int) -> dict[str, Any]:
    return {
        "email": f"candidat-{number}@example.org",
        "full_name": f"Candidat·e {number}",
        "password_hash": "!",
        "role": "applicant",
        "active": True,
        "token_version": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _application_row(session_id: int, applicant_id: int, status: str) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "applicant_id": applicant_id,
        "status": status,
        "channel": "online",
        "submitted_at": NOW,
        # A row as wide as a real one: the planner weighs the heap against the indexes.
        "motivation": "Je coordonne la médiation numérique du musée. " * 8,
        "organisation": "Musée",
        "job_title": "Médiatrice",
        "audience": "culture_professional",
        "funding": "employer",
        "billing_name": "Service formation",
        "billing_organisation": "Musée",
        "billing_address": "20 place des Terreaux, 69001 Lyon",
        "billing_email": "formation@musee.example",
        "discount_status": "none",
        "waitlist_position": None,
        "decision_note": "",
        "created_at": NOW,
        "updated_at": NOW,
    }


def _quote_row(
    number: int, application_id: int, session_id: int, applicant_id: int, *, recent: bool, status: str
) -> dict[str, Any]:
    issued = status != "draft"
    # The old issued quotes nobody answered have expired; the recent ones are still valid.
    valid_until = TODAY + timedelta(days=30 if recent else -30)
    return {
        "number": f"DEV-2026-{number:05d}" if issued else None,
        "application_id": application_id,
        "session_id": session_id,
        "applicant_id": applicant_id,
        "status": status,
        "lines": [
            {"label": "Formation", "quantity": 1, "unit_price_cents": 200_000, "amount_cents": 200_000}
        ],
        "subtotal_cents": 200_000,
        "discount_cents": 0,
        "total_cents": 200_000,
        "vat_note": "",
        "notes": [],
        "issued_at": NOW if issued else None,
        "valid_until": valid_until if issued else None,
        "created_at": NOW,
        "updated_at": NOW,
    }


@contextmanager
def _capture(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements reading `application` or `quote` that the engine sends meanwhile."""
    captured: list[tuple[str, Any]] = []

    def listener(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if not many and WATCHED.search(statement):
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield captured
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def _problems(engine: Engine, statement: str, parameters: Any, *, case: Case, page: bool) -> list[str]:
    """What in the plan of `statement` reads more than the case's filters select."""
    table = WATCHED.search(statement)
    assert table is not None
    name = table.group(1)
    ordered = page and case.ordered
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            plan = _plan(connection, statement, parameters)
            problems = _postgresql_problems(plan, name, case=case, page=page)
            if ordered:
                # The planner may rightly sort a few dozen rows; forbidden to sort, it must still
                # find an index that gives the filter's rows in order, or show the Sort it needs.
                connection.exec_driver_sql("SET LOCAL enable_sort = off")
                plan = _plan(connection, statement, parameters)
                unsorted = _postgresql_problems(plan, name, case=case, page=page, ordered=True)
                problems += [f"without sorting: {problem}" for problem in unsorted]
            return problems
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    problems = []
    for row in rows:
        detail: str = row[3]
        # SCAN reads the whole table or index; SEARCH must be bounded by one of the keys.
        reads = re.match(rf"(SCAN|SEARCH) {name}\b", detail)
        if reads and case.keys and not any(re.search(rf"[(\s]{key}[=<>]", detail) for key in case.keys):
            problems.append(detail)
        if "TEMP B-TREE FOR ORDER BY" in detail and ordered:
            problems.append(detail)
    return problems


def _plan(connection: Connection, statement: str, parameters: Any) -> dict[str, Any]:
    answer = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar_one()
    plan: dict[str, Any] = (json.loads(answer) if isinstance(answer, str) else answer)[0]["Plan"]
    return plan


def _postgresql_problems(
    node: dict[str, Any], table: str, *, case: Case, page: bool, ordered: bool = False
) -> list[str]:
    problems = []
    kind = node["Node Type"]
    # An index scan's bound is its Index Cond; a bitmap heap scan's, the Recheck Cond.
    bound = node.get("Index Cond") or node.get("Recheck Cond") or ""
    bounded = any(re.search(rf"(?<![.\w]){key}\b", bound) for key in case.keys)
    walks_pk = kind == "Index Scan" and node.get("Index Name") == f"pk_{table}" and page and case.spread
    if node.get("Relation Name") == table and case.keys and not bounded and not walks_pk:
        problems.append(f"{kind} on {table} ({node.get('Index Name', 'no index')}, cond {bound or None})")
    if kind in {"Sort", "Incremental Sort"} and ordered:
        problems.append(f"{kind} by {node.get('Sort Key')}")
    for child in node.get("Plans", []):
        problems += _postgresql_problems(child, table, case=case, page=page, ordered=ordered)
    return problems


def _short(statement: str) -> str:
    """The statement on one line, its column list elided."""
    return re.sub(r"^SELECT (?!count\().*? FROM ", "SELECT … FROM ", " ".join(statement.split()))


def test_list_pages_find_their_rows_through_indexes(
    app: FastAPI, secretariat: TestClient, applicant: TestClient, trainer: TestClient
) -> None:
    session_id, taught_id = _fill(app, secretariat, applicant, trainer)
    clients = {"secretariat": secretariat, "applicant": applicant, "trainer": trainer}
    engine: Engine = app.state.engine
    failures = []
    for case in _cases(session_id, taught_id):
        with _capture(engine) as captured:
            answer = clients[case.role].get(case.path, params={**case.params, "limit": 50})
        assert answer.status_code == 200, (case.name, answer.text)
        assert answer.json()["items"], f"{case.name}: the page is empty, the case proves nothing"
        kinds = ["count" if "count(" in s.lower() else "page" for s, _ in captured]
        assert sorted(kinds) == ["count", "page"], (case.name, captured)
        for kind, (statement, parameters) in zip(kinds, captured, strict=True):
            problems = _problems(engine, statement, parameters, case=case, page=kind == "page")
            if problems:
                failures.append(
                    f"{case.name} ({kind}): {'; '.join(problems)}\n    {_short(statement)} {parameters}"
                )
    assert not failures, "queries whose cost grows with the table:\n" + "\n".join(failures)
