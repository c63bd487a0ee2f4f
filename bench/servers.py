"""The processes under load: the service as production runs it, and the reference app.

`ateliers serve` with one worker calls `uvicorn.run` in its own process (no supervisor), so the
pid of `python -m api.cli serve` is the server whose memory is read; this is checked, not assumed.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.load import BenchBroken

# A valid SIRET (checked by python-stdnum, as the settings do) and a declaration number.
ORG_SIRET = "73282932000074"
ORG_DECLARATION = "82 38 01234 38"


def service_environment(
    database_url: str, storage_dir: Path, secret_key: str, token_minutes: int
) -> dict[str, str]:
    """The environment of a production process; nothing of the caller's ATELIERS_* leaks in."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("ATELIERS_")}
    return {
        **inherited,
        "ATELIERS_ENV": "production",
        "ATELIERS_DATABASE_URL": database_url,
        "ATELIERS_SECRET_KEY": secret_key,
        "ATELIERS_STORAGE_DIR": str(storage_dir),
        "ATELIERS_ORG_NAME": "Observatoire des politiques culturelles",
        "ATELIERS_ORG_ADDRESS": "1, rue du Vieux Temple, 38000 Grenoble",
        "ATELIERS_ORG_SIRET": ORG_SIRET,
        "ATELIERS_ORG_TRAINING_DECLARATION": ORG_DECLARATION,
        # Minted tokens must outlive the whole run, scaling section included.
        "ATELIERS_ACCESS_TOKEN_MINUTES": str(token_minutes),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def memory_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the server process, in KiB."""
        fields: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
        return fields["VmRSS"], fields["VmHWM"]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The parent pid is the 2nd field after the parenthesised command name.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _wait_ready(server: Server, health: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchBroken(
                f"{server.name} exited with {server.process.returncode}:\n{server.log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(server.base + health, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # still starting
    raise BenchBroken(f"{server.name} did not answer {health} within 60 s:\n{server.log.read_text()[-3000:]}")


@contextmanager
def _running(name: str, command: list[str], env: dict[str, str], log: Path, health: str) -> Iterator[Server]:
    port = free_port()
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
    server = Server(name=name, process=process, base=f"http://127.0.0.1:{port}", log=log)
    try:
        _wait_ready(server, health)
        if _children(server.pid):
            raise BenchBroken(f"{name} runs child processes: its memory would not be the server's")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def service(env: dict[str, str], log: Path) -> Iterator[Server]:
    """`python -m api.cli serve`, one worker, as production starts it; its log goes to `log`."""
    command = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--workers", "1"]
    with _running("the service", command, env, log, "/healthz") as server:
        yield server


# Plain uvicorn, the settings `ateliers serve` passes, minus its bounded-head protocol.
REFERENCE_COMMAND = [
    sys.executable,
    "-m",
    "uvicorn",
    "bench.reference:app",
    "--host",
    "127.0.0.1",
    "--workers",
    "1",
    "--http",
    "httptools",
    "--no-access-log",
    "--no-proxy-headers",
]


@contextmanager
def reference(log: Path) -> Iterator[Server]:
    """The bare FastAPI app of bench/reference.py under plain uvicorn."""
    with _running("the reference app", REFERENCE_COMMAND, dict(os.environ), log, "/status") as server:
        yield server
