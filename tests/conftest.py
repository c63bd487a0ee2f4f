"""Fixtures: a fresh database per test (SQLite, or PostgreSQL when configured), a set clock,
and one HTTP client per role."""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from alembic import command
from api.cli import alembic_config
from api.clock import FixedClock
from api.config import Settings
from api.main import create_app
from models.user import Role
from tests.factories import add_account

# CI sets this to run the whole suite on PostgreSQL; unset, every test runs on SQLite.
POSTGRES_URL = os.environ.get("ATELIERS_TEST_DATABASE_URL", "")
# Made for this run: no key written in the repository ever signs a token the suite accepts.
TEST_SECRET_KEY = secrets.token_urlsafe(48)
# A Thursday in winter, Paris time 10:00: the clock every test starts from.
START = datetime(2027, 1, 14, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
# The least Argon2 allows (production's is ~2,400 times the work): the suite hashes and verifies a
# password for nearly every test, and the settings' defaults are tested in test_settings.py.
CHEAP_PASSWORD_HASHING: dict[str, Any] = {
    "password_hash_time_cost": 1,
    "password_hash_memory_kib": 8,
    "password_hash_parallelism": 1,
}
CHEAP_PASSWORD_HASHING_ENV = {
    f"ATELIERS_{name.upper()}": str(value) for name, value in CHEAP_PASSWORD_HASHING.items()
}


def _admin_connection(url: str) -> psycopg.Connection:
    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        dbname=parsed.database or "postgres",
        autocommit=True,
        connect_timeout=5,
    )


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once with `alembic upgrade head`; each test gets a copy."""
    if POSTGRES_URL:
        name = f"ateliers_tmpl_{uuid.uuid4().hex[:12]}"
        with _admin_connection(POSTGRES_URL) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = _with_database(POSTGRES_URL, name)
        command.upgrade(alembic_config(url), "head")
        yield url
        with _admin_connection(POSTGRES_URL) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    command.upgrade(alembic_config(url), "head")
    yield url


@contextmanager
def fresh_database(template_database: str, directory: Path) -> Iterator[str]:
    """A copy of the template database (a file in `directory` on SQLite), dropped on exit."""
    if POSTGRES_URL:
        name = f"ateliers_t_{uuid.uuid4().hex[:12]}"
        template = make_url(template_database).database
        with _admin_connection(POSTGRES_URL) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        try:
            yield _with_database(POSTGRES_URL, name)
        finally:
            with _admin_connection(POSTGRES_URL) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    source = Path(make_url(template_database).database or "")
    target = directory / "ateliers.db"
    shutil.copyfile(source, target)
    yield f"sqlite:///{target}"


@pytest.fixture
def database_url(template_database: str, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own, already at the latest migration."""
    with fresh_database(template_database, tmp_path) as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        storage_dir=str(tmp_path / "storage"),
        **CHEAP_PASSWORD_HASHING,
    )


@pytest.fixture
def clock() -> FixedClock:
    """The service's clock; tests move it instead of waiting."""
    return FixedClock(START)


# The client that runs each served app's lifespan; the others send their requests to its loop.
_SERVED: "weakref.WeakKeyDictionary[FastAPI, TestClient]" = weakref.WeakKeyDictionary()


@contextmanager
def serving(application: FastAPI) -> Iterator[TestClient]:
    """`application` started as `ateliers serve` starts it (its lifespan, on one event loop) until
    the block ends; `AppClient`s of it send their requests to that loop."""
    with TestClient(
        application, base_url="http://testserver/api/v1", raise_server_exceptions=False
    ) as server:
        _SERVED[application] = server
        try:
            yield server
        finally:
            del _SERVED[application]


def is_served(application: FastAPI) -> bool:
    return application in _SERVED


class AppClient(TestClient):
    """A client of a served app (the `app` fixture's): its requests run on the loop the app's
    lifespan started on, as every request to `ateliers serve` does, from whatever thread sends them.
    Entering it starts nothing: the app is already served."""

    def __init__(
        self,
        application: FastAPI,
        *,
        address: str = "testclient",
        port: int = 50000,
        base_url: str = "http://testserver/api/v1",
    ) -> None:
        super().__init__(
            application,
            base_url=base_url,
            raise_server_exceptions=False,
            client=(address, port),
        )
        self.portal = _SERVED[application].portal

    def __enter__(self) -> "AppClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@pytest.fixture
def app(settings: Settings, clock: FixedClock) -> Iterator[FastAPI]:
    """The service, started: its lifespan runs for the whole test."""
    application = create_app(settings, clock=clock)
    with serving(application):
        yield application


def _client(app: FastAPI, token: str | None = None) -> TestClient:
    client = AppClient(app)
    if token:
        client.headers["Authorization"] = f"Bearer {token}"
    return client


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with _client(app) as client:
        yield client


UserFactory = Callable[..., TestClient]


@pytest.fixture
def make_user(app: FastAPI, clock: FixedClock) -> Iterator[UserFactory]:
    """Create an account the way `ateliers create-user` does, then log in over HTTP.

    The client it returns carries the user's access token and, as attributes, `user`
    (the JSON of GET /users/me) and `tokens` (the login answer).
    """
    clients: list[TestClient] = []

    def factory(
        role: Role | str = Role.applicant, *, email: str | None = None, full_name: str | None = None
    ) -> TestClient:
        role = Role(role)
        email = email or f"{role.value}-{uuid.uuid4().hex[:8]}@example.org"
        full_name = full_name or f"{role.value.title()} Test"
        add_account(app, email, password=PASSWORD, role=role, full_name=full_name, now=clock.now())
        client = _client(app)
        answer = client.post("/auth/token", data={"username": email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        client.tokens = answer.json()
        client.user = client.get("/users/me").json()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def secretariat(make_user: UserFactory) -> TestClient:
    return make_user(Role.secretariat, full_name="Claire Secrétariat")


@pytest.fixture
def trainer(make_user: UserFactory) -> TestClient:
    return make_user(Role.trainer, full_name="Élise Formatrice")


@pytest.fixture
def applicant(make_user: UserFactory) -> TestClient:
    return make_user(Role.applicant, full_name="Camille Candidate")


# The edge deadlines of the live server: short, so that tests of slow clients stay short.
LIVE_HEADER_TIMEOUT_SECONDS = 2
LIVE_BODY_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class LiveServer:
    """`ateliers serve` running in a process of its own on 127.0.0.1."""

    url: str
    port: int
    pid: int
    log: Path  # its stderr, where the service logs
    database_url: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def start_live_servers(count: int, *, database_url: str, directory: Path) -> Iterator[list[LiveServer]]:
    """`count` processes of `ateliers serve` on one database, started together, stopped on exit.

    They share the suite's secret key, so a token one of them issues is good on the others; they
    log to `directory`/server.log, or server-N.log when there are several.
    """
    env = {
        **os.environ,
        "ATELIERS_ENV": "test",
        "ATELIERS_SECRET_KEY": TEST_SECRET_KEY,
        "ATELIERS_DATABASE_URL": database_url,
        "ATELIERS_STORAGE_DIR": str(directory),
        "ATELIERS_HEADER_TIMEOUT_SECONDS": str(LIVE_HEADER_TIMEOUT_SECONDS),
        "ATELIERS_BODY_TIMEOUT_SECONDS": str(LIVE_BODY_TIMEOUT_SECONDS),
        **CHEAP_PASSWORD_HASHING_ENV,
    }
    processes: list[subprocess.Popen[bytes]] = []
    servers: list[LiveServer] = []
    try:
        for n in range(count):
            port = _free_port()
            log = directory / ("server.log" if count == 1 else f"server-{n}.log")
            command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
            with log.open("wb") as stderr:
                process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
            processes.append(process)
            url = f"http://127.0.0.1:{port}"
            server = LiveServer(url=url, port=port, pid=process.pid, log=log, database_url=database_url)
            servers.append(server)
        # Started together and awaited together: two cold starts cost the time of one.
        for server in servers:
            _wait_until_healthy(server)
        yield servers
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def _wait_until_healthy(server: LiveServer) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)  # the server is still starting
    pytest.fail(f"uvicorn did not start; its log:\n{server.log.read_text(errors='replace')}")


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """The real uvicorn, with the protocol and deadlines `ateliers serve` runs in production."""
    with start_live_servers(1, database_url=database_url, directory=tmp_path) as (server,):
        yield server


@pytest.fixture(scope="module")
def live_servers(
    template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two `ateliers serve` processes behind one database, as two hosts behind a load balancer.

    Started once per module, on a database of that module's own: its tests share both the
    database and the processes' caches, so each makes its own rows under names of its own.
    """
    directory = tmp_path_factory.mktemp("live-servers")
    with (
        fresh_database(template_database, directory) as url,
        start_live_servers(2, database_url=url, directory=directory) as (first, second),
    ):
        yield first, second
