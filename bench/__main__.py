"""`make bench` (`python -m bench`): the service's throughput under wrk, against a bare FastAPI app.

Seeds a database of realistic size (SQLite in a temporary folder, or a fresh PostgreSQL database
when ATELIERS_DATABASE_URL names a PostgreSQL server), starts `ateliers serve` as production does
(one worker, no access log, its own request log on) and the reference app of bench/reference.py,
drives each workload with wrk, and writes bench/results.md. Targets are reported, never asserted:
the exit code is non-zero only when the bench itself breaks (a server that does not start, a
workload answered with errors).

Environment: BENCH_WARMUP and BENCH_DURATION (seconds per workload, 3 and 8), BENCH_SCALING=0 to
skip the 1,000 / 100,000 applications comparison.
"""

import json
import os
import secrets
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from api.config import Settings
from api.security import create_access_token
from bench import seed as seeding
from bench.database import describe, is_postgresql, scratch_database
from bench.load import (
    CONNECTIONS,
    SETTLE_SECONDS,
    THREADS,
    BenchBroken,
    Measurement,
    Rotation,
    Timing,
    Workload,
    WrkResult,
    measure,
    require_wrk,
)
from bench.report import RESULTS, Measured, Memory, Report, ScalingRow, load_average, render, summary
from bench.servers import reference, service, service_environment

API = "/api/v1"
# Drafts made for the quote issue beyond the seeded ones: at 2,500 issues a second, more than its
# warm-up and run spend, and a pool that runs out shows as errors.
QUOTE_ISSUE_POOL = 30_000
# Long enough for every minted or logged-in token to outlive the run.
TOKEN_MINUTES = 720
SUBMISSION = json.dumps(
    {
        "motivation": "Je coordonne la médiation numérique du musée et souhaite concevoir un parcours.",
        "organisation": "Musée des Beaux-Arts de Lyon",
        "audience": "culture_professional",
        "funding": "employer",
        "billing": {"name": "Service formation", "email": "formation@mba-lyon.example"},
    },
    ensure_ascii=True,
)


def log_in(base: str, email: str, password: str) -> str:
    """An access token through POST /auth/token, as a client gets one."""
    answer = httpx.post(f"{base}{API}/auth/token", data={"username": email, "password": password}, timeout=30)
    if answer.status_code != 200:
        raise BenchBroken(f"logging in as {email} answered {answer.status_code}: {answer.text[:300]}")
    token: str = answer.json()["access_token"]
    return token


def mint_tokens(settings: Settings, user_ids: list[int]) -> list[str]:
    """Access tokens signed with the service's key: logging in thousands of times would only
    measure Argon2."""
    now = datetime.now(UTC)
    return [
        create_access_token(settings, user_id=user_id, role="applicant", token_version=0, now=now)[0]
        for user_id in user_ids
    ]


def list_workloads(seeded: seeding.Seeded, secretariat: str, applicant: str) -> list[Workload]:
    """The two lists whose cost must not grow with the data: measured in both sections."""
    return [
        Workload(
            "own_applications",
            "applicant's own applications",
            f"{API}/applications",
            headers={"Authorization": f"Bearer {applicant}"},
        ),
        Workload(
            "session_applications",
            "secretariat: a session's applications",
            f"{API}/applications?session_id={seeded.target_session_id}&limit=50",
            headers={"Authorization": f"Bearer {secretariat}"},
        ),
    ]


def workloads(
    base: str, url: str, seeded: seeding.Seeded, secretariat: str, applicant: str, fresh: list[str]
) -> list[Workload]:
    """The service's workloads, reads first: the writes come last and change nothing they read."""
    listing = httpx.get(f"{base}{API}/sessions", timeout=30)
    etag = listing.headers.get("etag")
    if listing.status_code != 200 or not etag:
        raise BenchBroken(f"GET /sessions answered {listing.status_code} without an ETag")
    json_body = {"Content-Type": "application/json"}
    return [
        Workload("listing", "public listing, default page", f"{API}/sessions"),
        Workload("listing_filtered", "listing, city=Paris&open=true", f"{API}/sessions?city=Paris&open=true"),
        Workload(
            "listing_304",
            "listing revalidated (304)",
            f"{API}/sessions",
            headers={"If-None-Match": etag},
            expect=304,
        ),
        Workload(
            "detail",
            f"detail by slug (rotating over {len(seeded.visible_slugs)})",
            f"{API}/sessions/{seeded.visible_slugs[0]}",
            rotation=Rotation([f"{API}/sessions/{slug}" for slug in seeded.visible_slugs]),
        ),
        Workload("ics", "iCalendar feed", f"{API}/sessions.ics"),
        Workload("discounts", "discounts", f"{API}/discounts"),
        *list_workloads(seeded, secretariat, applicant),
        Workload(
            "submission",
            "application submission",
            f"{API}/sessions/{seeded.open_session_ids[0]}/applications",
            method="POST",
            headers=json_body,
            body=SUBMISSION,
            rotation=Rotation(
                [f"{API}/sessions/{session_id}/applications" for session_id in seeded.open_session_ids],
                tokens=fresh,
                unique=True,
            ),
            expect=201,
        ),
        Workload(
            "quote_issue",
            "quote issue",
            f"{API}/quotes/{seeded.draft_quote_ids[0]}/issue",
            method="POST",
            rotation=Rotation(
                [f"{API}/quotes/{quote_id}/issue" for quote_id in seeded.draft_quote_ids],
                tokens=[secretariat],
                unique=True,
            ),
            top_up=lambda: [
                f"{API}/quotes/{draft}/issue" for draft in seeding.add_draft_quotes(url, QUOTE_ISSUE_POOL)
            ],
        ),
    ]


def _request_text(workload: Workload) -> str:
    text = f"{workload.method} {workload.path.removeprefix(API)}"
    if workload.rotation is not None:
        text += f" (rotating, {workload.rotation.size:,} distinct)"
    if "If-None-Match" in workload.headers:
        text += " + If-None-Match"
    return text


def _measure_checked(wrk: str, base: str, workload: Workload, folder: Path, timing: Timing) -> Measurement:
    measurement = measure(wrk, base, workload, folder, timing)
    result = measurement.result
    flag = f"  !!! {result.errors} ERRORS !!!" if result.errors else ""
    stalls = [f"{seconds:.1f} s" for seconds in measurement.stalled if seconds >= 0.5]
    stall = f"  (stalled {', '.join(stalls)} before a run)" if stalls else ""
    if measurement.warmup_wrong:
        stall += f"  ({measurement.warmup_wrong} of {measurement.warmup_requests} warm-up answers wrong)"
    print(
        f"  {workload.label:42} {result.rate:8,.0f} req/s  p50 {result.p50_ms:7.2f} ms{flag}{stall}",
        flush=True,
    )
    return measurement


def main_bench(wrk: str, folder: Path, timing: Timing, server_url: str | None, secret: str) -> Report:
    """Seed, serve, and drive every workload on one database."""
    started = datetime.now(UTC)
    with scratch_database(server_url, folder, "main") as url:
        print("seeding ...", flush=True)
        seeded = seeding.seed(url, seeding.SeedPlan())
        database = describe(url)
        env = service_environment(url, folder / "storage", secret, TOKEN_MINUTES)
        settings = Settings(
            env="development", secret_key=SecretStr(secret), access_token_minutes=TOKEN_MINUTES
        )
        fresh = mint_tokens(settings, seeded.fresh_applicant_ids)
        with reference(folder / "reference.log") as ref, service(env, folder / "service.log") as server:
            secretariat = log_in(server.base, seeding.SECRETARIAT_EMAIL, seeding.SECRETARIAT_PASSWORD)
            applicant = log_in(server.base, seeding.APPLICANT_EMAIL, seeding.APPLICANT_PASSWORD)
            reference_workload = Workload("reference", "reference app", "/status")
            reference_first = _measure_checked(wrk, ref.base, reference_workload, folder, timing).result
            measured: list[Measured] = []
            first_memory: tuple[int, int] | None = None
            # BENCH_ONLY=submission,quote_issue measures only those, to work on one at a time.
            only = {key for key in os.environ.get("BENCH_ONLY", "").split(",") if key}
            for workload in workloads(server.base, url, seeded, secretariat, applicant, fresh):
                if only and workload.key not in only:
                    continue
                if workload.top_up is not None and workload.rotation is not None:
                    workload.rotation.paths += workload.top_up()
                measurement = _measure_checked(wrk, server.base, workload, folder, timing)
                measured.append(
                    Measured(
                        workload.key,
                        workload.label,
                        _request_text(workload),
                        measurement.result,
                        stalled=measurement.stalled,
                    )
                )
                if first_memory is None:
                    first_memory = server.memory_kib()
            last_memory = server.memory_kib()
            reference_last = _measure_checked(wrk, ref.base, reference_workload, folder, timing).result
            assert first_memory is not None
    dialect = "postgresql" if is_postgresql(server_url) else "sqlite"
    setup = [
        f"The service: `python -m api.cli serve --workers 1` (pid {server.pid}, checked to have no child "
        "process): uvicorn in-process, httptools through api/edge/server.py's BoundedHttpToolsProtocol, "
        "no access log, the service's own request log at its default level (INFO) written to a file; "
        "ATELIERS_ENV=production.",
        'The reference: bench/reference.py, one `def` endpoint answering {"status": "ok"}, under plain '
        "uvicorn (`--http httptools --no-access-log --workers 1`, not the bounded-head protocol).",
        f"Load: wrk {THREADS} threads, {CONNECTIONS} connections, keep-alive, on loopback, from another "
        f"process on the same machine ({os.cpu_count()} cores shared by wrk, the server and whatever else "
        f"runs); per workload: one checked request, {timing.warmup} s warm-up by 8 Python clients that "
        f"wait for every answer, a second checked request, {timing.duration} s measured by wrk "
        f"(`--latency` percentiles), then {SETTLE_SECONDS:g} s for the requests wrk dropped to finish.",
        "Rotations: detail cycles through every visible slug; submission gives each request a new "
        "(applicant, open session) pair from minted access tokens, consecutive requests changing both "
        "the applicant and the session; quote issue gives each request a different draft, the seeded "
        f"ones then {QUOTE_ISSUE_POOL:,} more made just before its run. "
        "The applicant and secretariat log in through POST /auth/token.",
        "Ratios divide by the mean of the reference's first and last runs.",
    ]
    return Report(
        started=started,
        finished=datetime.now(UTC),
        database=database,
        dialect=dialect,
        setup=setup,
        counts=seeded.counts,
        reference_first=reference_first,
        reference_last=reference_last,
        measured=measured,
        memory=Memory(first_memory[0], first_memory[1], last_memory[0], last_memory[1]),
    )


def scaling(
    wrk: str, folder: Path, timing: Timing, server_url: str | None, secret: str
) -> tuple[list[ScalingRow], str]:
    """The two list workloads on a database of 1,000 and of 100,000 applications."""
    sizes = (1_000, 100_000)
    measured: dict[str, dict[int, WrkResult]] = {}
    for size in sizes:
        plan = seeding.SeedPlan(applications=size, quotes=size // 4, draft_quotes=0, fresh_applicants=0)
        with scratch_database(server_url, folder, f"scale{size}") as url:
            print(f"seeding {size:,} applications ...", flush=True)
            seeded = seeding.seed(url, plan)
            env = service_environment(url, folder / "storage", secret, TOKEN_MINUTES)
            with service(env, folder / f"service-scale{size}.log") as server:
                secretariat = log_in(server.base, seeding.SECRETARIAT_EMAIL, seeding.SECRETARIAT_PASSWORD)
                applicant = log_in(server.base, seeding.APPLICANT_EMAIL, seeding.APPLICANT_PASSWORD)
                for workload in list_workloads(seeded, secretariat, applicant):
                    result = _measure_checked(wrk, server.base, workload, folder, timing).result
                    if result.errors:
                        raise BenchBroken(
                            f"scaling, {size:,} applications, {workload.label}: {result.errors} errors"
                        )
                    measured.setdefault(workload.label, {})[size] = result
    rows = [
        ScalingRow(label, small=by_size[sizes[0]], large=by_size[sizes[1]])
        for label, by_size in measured.items()
    ]
    note = (
        "Two more databases, seeded alike but for the number of applications "
        f"({sizes[0]:,} and {sizes[1]:,}); in both the listed session has "
        f"{seeding.SeedPlan.target_session_applications} applications and the applicant "
        f"{seeding.SeedPlan.own_applications}, so the same page is read from a table 100 times larger. "
        "Slowdown: req/s at 1k / req/s at 100k."
    )
    return rows, note


def main() -> int:
    try:
        wrk = require_wrk()
        server_url = os.environ.get("ATELIERS_DATABASE_URL")
        if server_url and not is_postgresql(server_url):
            print(
                "ATELIERS_DATABASE_URL is not PostgreSQL: benchmarking SQLite in a temporary file", flush=True
            )
            server_url = None
        timing = Timing()
        # One key for every process of the run, as a deployment shares one.
        secret = secrets.token_urlsafe(48)
        load_before = load_average()
        with tempfile.TemporaryDirectory(prefix="ateliers-bench-") as name:
            folder = Path(name)
            report = main_bench(wrk, folder, timing, server_url, secret)
            report.load_before = load_before
            if os.environ.get("BENCH_SCALING", "1") != "0":
                report.scaling, report.scaling_note = scaling(wrk, folder, timing, server_url, secret)
            report.finished = datetime.now(UTC)
            report.load_after = load_average()
    except BenchBroken as error:
        print(f"\nBENCH BROKEN: {error}", file=sys.stderr)
        return 1
    RESULTS.write_text(render(report), encoding="utf-8")
    print()
    print(summary(report))
    print(f"\nwrote {RESULTS}")
    if report.failed_workloads:
        names = ", ".join(m.label for m in report.failed_workloads)
        print(f"\nBENCH BROKEN: workloads answered with errors: {names}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
