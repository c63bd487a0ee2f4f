"""`make bench`: throughput of the public catalogue under a real uvicorn on SQLite.

Loads 50 published sessions, then drives the hot reads (listing, revalidation with
If-None-Match, detail) from concurrent clients for a bounded number of requests.
Uses Debian's wrk when installed (`apt-get install wrk`), Python clients otherwise.
Numbers are printed, never asserted: compare them between commits on the same machine.
"""

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from alembic import command
from api.cli import alembic_config
from api.config import Settings
from api.db import build_engine, open_session
from api.services.sessions import change_status, create_session
from models.training_session import TrainingSessionCreate

SESSIONS = 50
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "3000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))


def _load(url: str) -> None:
    command.upgrade(alembic_config(url), "head")
    engine = build_engine(Settings(database_url=url))
    now = datetime.now(UTC)
    with open_session(engine, write=True) as db:
        for n in range(SESSIONS):
            start = date.today() + timedelta(days=30 + 7 * n)
            session = create_session(
                db,
                TrainingSessionCreate(
                    title=f"Les ateliers des cultures numériques #{n + 2}",
                    summary="Six jours d'ateliers pour les professionnels de la culture.",
                    start_date=start,
                    end_date=start + timedelta(days=5),
                    hours=45,
                    city="Paris",
                    capacity=25,
                    price_cents=200_000,
                    application_deadline=start - timedelta(days=18),
                    objectives=["Comprendre", "Concevoir", "Expérimenter"],
                ),
                now=now,
            )
            change_status(db, session, "publish", now=now)
        db.commit()
    engine.dispose()


def _wrk(base: str, path: str, headers: dict[str, str]) -> str:
    """wrk's throughput and latency percentiles, when Debian's wrk is installed."""
    command = ["wrk", "-t2", f"-c{CONCURRENCY * 2}", "-d5s", "--latency", f"{base}{path}"]
    for name, value in headers.items():
        command[1:1] = ["-H", f"{name}: {value}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = next(line.split()[1] for line in output.splitlines() if line.startswith("Requests/sec"))
    p50 = next(line.split()[1] for line in output.splitlines() if line.strip().startswith("50%"))
    p99 = next(line.split()[1] for line in output.splitlines() if line.strip().startswith("99%"))
    non_2xx = [line.strip() for line in output.splitlines() if "Non-2xx" in line]
    return f"{float(rate):7.0f} req/s  p50 {p50:>8}  p99 {p99:>8}  {' '.join(non_2xx)}"


def _drive(base: str, path: str, headers: dict[str, str]) -> tuple[float, list[float], set[int]]:
    latencies: list[float] = []
    statuses: set[int] = set()
    per_worker = REQUESTS // CONCURRENCY

    def worker(_: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            for _ in range(per_worker):
                started = time.perf_counter()
                answer = client.get(path)
                latencies.append(time.perf_counter() - started)
                statuses.add(answer.status_code)

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(worker, range(CONCURRENCY)))
    return per_worker * CONCURRENCY / (time.perf_counter() - started), latencies, statuses


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        _load(url)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "ATELIERS_DATABASE_URL": url, "ATELIERS_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)  # uvicorn is starting
            etag = httpx.get(f"{base}/api/v1/sessions").headers["etag"]
            cases = [
                ("listing, page of 20", "/api/v1/sessions", {}),
                ("listing revalidated (304)", "/api/v1/sessions", {"If-None-Match": etag}),
                ("listing filtered q=numerique", "/api/v1/sessions?q=numerique&limit=50", {}),
                ("detail by slug", "/api/v1/sessions/les-ateliers-des-cultures-numeriques-2", {}),
            ]
            if shutil.which("wrk"):
                print(f"{SESSIONS} sessions, wrk 5 s at {CONCURRENCY * 2} connections, 1 uvicorn worker")
                for label, path, headers in cases:
                    _wrk(base, path, headers)  # warm up
                    print(f"  {label:30} {_wrk(base, path, headers)}")
                return 0
            print(f"{SESSIONS} sessions, {REQUESTS} requests, {CONCURRENCY} clients, 1 uvicorn worker")
            print("  (Python clients share the CPU with the server: install wrk for truer numbers)")
            for label, path, headers in cases:
                _drive(base, path, headers)  # warm up
                rate, latencies, statuses = _drive(base, path, headers)
                p50 = statistics.median(latencies) * 1000
                p95 = statistics.quantiles(latencies, n=20)[18] * 1000
                timing = f"p50 {p50:6.1f} ms  p95 {p95:6.1f} ms"
                print(f"  {label:30} {rate:7.0f} req/s  {timing}  {sorted(statuses)}")
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
