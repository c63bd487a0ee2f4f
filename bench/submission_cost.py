"""The CPU one application submission costs, outside the server: `python -m bench.submission_cost`.

Runs what a submission's handler runs (the body's validation, the service call, the answer's bytes,
the commit) in a loop on one thread, and prints the wall and CPU time of one. No HTTP, no event
loop and no other request compete with it, so a change to the write path shows in microseconds
that `make bench` can only see through the noise of a shared machine. SQLite in a temporary file,
or PostgreSQL in a scratch database when ATELIERS_DATABASE_URL names a server;
BENCH_SUBMISSIONS sets how many are timed (1,500).
"""

import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import TypeAdapter
from sqlmodel import col, select

from api.config import Settings
from api.db.engine import build_engine, open_session
from api.edge.json_answers import json_answer
from api.services.applications import submit_application, to_public
from api.services.auth import Actor
from bench import seed as seeding
from bench.__main__ import SUBMISSION
from bench.database import is_postgresql, scratch_database
from models.application import ApplicationSubmission
from models.user import Role, User

WARMUP = 200


def measure(url: str, submissions: int) -> tuple[float, float]:
    """Seconds of wall and of CPU per submission, over `submissions` after a warm-up."""
    plan = seeding.SeedPlan(applications=2_000, quotes=100, draft_quotes=10, fresh_applicants=400)
    seeded = seeding.seed(url, plan)
    engine = build_engine(Settings(env="development", database_url=url))
    body = TypeAdapter(ApplicationSubmission)
    with open_session(engine, write=False) as db:
        query = select(User).where(col(User.id).in_(seeded.fresh_applicant_ids))
        actors = {user.id: Actor(user=user, role=Role.applicant) for user in db.exec(query)}
    pairs = [(a, s) for a in seeded.fresh_applicant_ids for s in seeded.open_session_ids]
    random.Random(2016).shuffle(pairs)
    if len(pairs) < WARMUP + submissions:
        raise SystemExit(f"at most {len(pairs) - WARMUP} submissions with this seed")
    now = datetime.now(UTC)

    def submit(applicant_id: int, session_id: int) -> None:
        data = body.validate_json(SUBMISSION)
        with open_session(engine, write=True) as db:
            application = submit_application(db, actors[applicant_id], str(session_id), data, now=now)
            answer = to_public(application)
            json_answer(answer, status_code=201, location=f"/api/v1/applications/{answer.id}")
            db.commit()

    try:
        for applicant_id, session_id in pairs[:WARMUP]:
            submit(applicant_id, session_id)
        wall, cpu = time.perf_counter(), time.thread_time()
        for applicant_id, session_id in pairs[WARMUP : WARMUP + submissions]:
            submit(applicant_id, session_id)
        return (time.perf_counter() - wall) / submissions, (time.thread_time() - cpu) / submissions
    finally:
        engine.dispose()


def main() -> int:
    server_url = os.environ.get("ATELIERS_DATABASE_URL")
    server_url = server_url if is_postgresql(server_url) else None
    submissions = int(os.environ.get("BENCH_SUBMISSIONS", "1500"))
    with (
        tempfile.TemporaryDirectory(prefix="ateliers-cost-") as name,
        scratch_database(server_url, Path(name), "cost") as url,
    ):
        wall, cpu = measure(url, submissions)
    database = "PostgreSQL" if server_url else "SQLite"
    print(f"{database}: one submission costs {wall * 1000:.2f} ms of wall time, {cpu * 1000:.2f} ms of CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
