"""The attacks of the adversarial review of authentication, replayed over HTTP.

Each test names the finding it holds (see docs/security.md); the races are in test_concurrency.py.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.clock import FixedClock
from api.config import Settings
from api.main import create_app
from models.user import Role
from tests.conftest import (
    CHEAP_PASSWORD_HASHING,
    CHEAP_PASSWORD_HASHING_ENV,
    PASSWORD,
    START,
    TEST_SECRET_KEY,
    AppClient,
    serving,
)
from tests.factories import add_account
from tests.problems import assert_problem, assert_unauthorized
from tests.test_auth import bearer, registration, request_token, service_claims, signed

WRONG_PASSWORD = "not the right password"
PUBLISHED_KEY = "development-only-secret-key-do-not-use-in-production"
ROOT = Path(__file__).resolve().parent.parent
# 65 characters, no address: what a trusted proxy may forward when a client sends garbage.
GARBAGE_FORWARDED_FOR = "x" * 40 + "-not-an-address-" + "y" * 9

AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(settings: Settings, clock: FixedClock) -> Iterator[AppFactory]:
    """The service on this test's database with some settings changed, like the `app` fixture."""
    started = ExitStack()

    def factory(**changes: Any) -> FastAPI:
        fields = {
            "env": "test",
            "database_url": settings.database_url,
            "secret_key": TEST_SECRET_KEY,
            "storage_dir": settings.storage_dir,
            **CHEAP_PASSWORD_HASHING,
            **changes,
        }
        application = create_app(Settings(_env_file=None, **fields), clock=clock)
        started.enter_context(serving(application))
        return application

    with started:
        yield factory


def client_from(app: FastAPI, address: str, port: int = 5000) -> TestClient:
    """A client whose connection comes from `address` (a proxy, when the app trusts it)."""
    return AppClient(app, address=address, port=port)


def add_user(app: FastAPI, clock: FixedClock, email: str, role: Role = Role.applicant) -> None:
    add_account(app, email, password=PASSWORD, role=role, full_name="Compte Test", now=clock.now())


def log_in_through(client: TestClient, email: str, password: str, forwarded_for: str) -> httpx.Response:
    return client.post(
        "/auth/token",
        data={"username": email, "password": password},
        headers={"X-Forwarded-For": forwarded_for},
    )


# 2. No published key signs a token; the image runs in production mode


def test_a_token_signed_with_the_published_development_key_is_refused_in_development(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    settings = Settings(
        _env_file=None,
        env="development",
        database_url=database_url,
        storage_dir=str(tmp_path),
        **CHEAP_PASSWORD_HASHING,
    )
    app = create_app(settings, clock=clock)
    with serving(app):
        add_user(app, clock, "dev@example.org")
        with client_from(app, "127.0.0.1") as client:
            user_id = client.get(
                "/users/me",
                headers=bearer(request_token(client, "dev@example.org", PASSWORD).json()["access_token"]),
            ).json()["id"]
            forged = signed(service_claims(user_id, settings, START), key=PUBLISHED_KEY)
            assert_unauthorized(client.get("/users/me", headers=bearer(forged)))


def test_the_image_runs_in_production_mode() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    runtime = dockerfile.split("AS runtime", 1)[1]
    assert "ATELIERS_ENV=production" in runtime


# 4. A login input that cannot be stored never gives a 500, nor a free guess


@pytest.mark.parametrize(("repeat", "status"), [(127, 401), (128, 422), (200, 422)])
def test_a_username_that_lengthens_when_lowered_is_checked_after_lowering(
    anonymous: TestClient, repeat: int, status: int
) -> None:
    # "İ" lowers to two characters: 128 of them pass the form's 254 but not the column's.
    answer = request_token(anonymous, "İ" * repeat, WRONG_PASSWORD)

    if status == 422:
        body = assert_problem(answer, 422, "validation_error")
        assert [tuple(error["loc"]) for error in body["errors"]] == [("body", "username")]
    else:
        assert_problem(answer, 401, "invalid_credentials")


def test_registration_with_an_email_that_lengthens_when_lowered_is_validation_error(
    anonymous: TestClient,
) -> None:
    for email in ("İ" * 64 + "@" + "b" * 180 + ".org", "İ" * 200 + "@example.org"):
        answer = anonymous.post("/auth/register", json=registration(email=email))
        assert_problem(answer, 422, "validation_error")


@pytest.mark.parametrize(
    "username",
    [
        "İ" * 254,
        " " * 10,
        "é" * 254,
        "a@" + "İ" * 252,
        "\u0345" * 200,
        "ß" * 254,
        "ﬃ" * 254,
        "\U0001f600" * 254,
    ],
)
def test_no_login_username_gives_a_500(anonymous: TestClient, username: str) -> None:
    answer = request_token(anonymous, username, WRONG_PASSWORD)

    assert answer.status_code in (401, 422), answer.text
    assert_problem(
        answer, answer.status_code, {401: "invalid_credentials", 422: "validation_error"}[answer.status_code]
    )


def test_garbage_forwarded_by_a_trusted_proxy_is_counted_and_never_a_500(
    make_app: AppFactory, clock: FixedClock
) -> None:
    app = make_app(trusted_proxies="127.0.0.1")
    add_user(app, clock, "cible@example.org")
    with client_from(app, "127.0.0.1") as proxy:
        for _ in range(10):
            failure = log_in_through(proxy, "cible@example.org", WRONG_PASSWORD, GARBAGE_FORWARDED_FOR)
            assert_problem(failure, 401, "invalid_credentials")
        refused = log_in_through(proxy, "cible@example.org", WRONG_PASSWORD, GARBAGE_FORWARDED_FOR)
        assert_problem(refused, 429, "too_many_attempts")
        assert int(refused.headers["retry-after"]) > 0
        # The right password, from the same garbage "address", gets no further.
        right = log_in_through(proxy, "cible@example.org", PASSWORD, GARBAGE_FORWARDED_FOR)
        assert_problem(right, 429, "too_many_attempts")


# 5. X-Forwarded-For is believed from ATELIERS_TRUSTED_PROXIES only

# An address is refused after 10 failures here, not 100, so that each test stays short.
ADDRESS_LIMIT = 10


def test_behind_a_trusted_proxy_one_clients_failures_do_not_lock_out_another(
    make_app: AppFactory, clock: FixedClock
) -> None:
    app = make_app(trusted_proxies="127.0.0.1", login_failures_per_address_limit=ADDRESS_LIMIT)
    add_user(app, clock, "claire@example.org", Role.secretariat)
    with client_from(app, "127.0.0.1") as proxy:
        for n in range(ADDRESS_LIMIT):
            failure = log_in_through(proxy, f"nobody-{n}@example.org", WRONG_PASSWORD, "198.51.100.1")
            assert_problem(failure, 401, "invalid_credentials")
        assert_problem(
            log_in_through(proxy, "claire@example.org", PASSWORD, "198.51.100.1"), 429, "too_many_attempts"
        )

        answer = log_in_through(proxy, "claire@example.org", PASSWORD, "198.51.100.2")

    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("trusted_proxies", ["", "10.0.0.0/8"])
def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    make_app: AppFactory, clock: FixedClock, trusted_proxies: str
) -> None:
    app = make_app(trusted_proxies=trusted_proxies, login_failures_per_address_limit=ADDRESS_LIMIT)
    add_user(app, clock, "cible@example.org")
    with client_from(app, "127.0.0.1") as attacker:
        for n in range(ADDRESS_LIMIT):
            failure = log_in_through(
                attacker, f"nobody-{n}@example.org", WRONG_PASSWORD, f"203.0.113.{n + 1}"
            )
            assert_problem(failure, 401, "invalid_credentials")
        # Rotating the header does not make a new address.
        answer = log_in_through(attacker, "cible@example.org", PASSWORD, "203.0.113.200")

    assert_problem(answer, 429, "too_many_attempts")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(database_url: str, tmp_path: Path, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    environment = {
        **os.environ,
        "ATELIERS_ENV": "test",
        "ATELIERS_SECRET_KEY": TEST_SECRET_KEY,
        "ATELIERS_DATABASE_URL": database_url,
        "ATELIERS_STORAGE_DIR": str(tmp_path),
        **CHEAP_PASSWORD_HASHING_ENV,
        **env,
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)  # the server is still starting
    process.terminate()
    process.wait(timeout=10)
    pytest.fail("uvicorn did not start")


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Callable[..., httpx.Client]]:
    """Start `ateliers serve` with extra environment; a client on it, with an account registered."""
    processes: list[subprocess.Popen[bytes]] = []
    clients: list[httpx.Client] = []

    def start(**env: str) -> httpx.Client:
        process, base = _serve(database_url, tmp_path, **env)
        processes.append(process)
        client = httpx.Client(base_url=f"{base}/api/v1", timeout=10)
        clients.append(client)
        created = client.post("/auth/register", json=registration(password=PASSWORD))
        assert created.status_code == 201, created.text
        return client

    yield start
    for client in clients:
        client.close()
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def _login(client: httpx.Client, email: str, password: str, forwarded_for: str) -> httpx.Response:
    return client.post(
        "/auth/token",
        data={"username": email, "password": password},
        headers={"X-Forwarded-For": forwarded_for},
    )


def test_over_a_real_socket_a_trusted_proxy_forwards_each_clients_address(live) -> None:
    client = live(
        ATELIERS_TRUSTED_PROXIES="127.0.0.1", ATELIERS_LOGIN_FAILURES_PER_ADDRESS_LIMIT=str(ADDRESS_LIMIT)
    )
    email = registration()["email"]
    for n in range(ADDRESS_LIMIT):
        assert_problem(
            _login(client, f"nobody-{n}@example.org", WRONG_PASSWORD, "198.51.100.1"),
            401,
            "invalid_credentials",
        )
    assert_problem(_login(client, email, PASSWORD, "198.51.100.1"), 429, "too_many_attempts")

    assert _login(client, email, PASSWORD, "198.51.100.2").status_code == 200
    # Garbage forwarded by the proxy is still one counted "address", never a 500.
    for _ in range(10):
        assert_problem(
            _login(client, email, WRONG_PASSWORD, GARBAGE_FORWARDED_FOR), 401, "invalid_credentials"
        )
    assert_problem(_login(client, email, PASSWORD, GARBAGE_FORWARDED_FOR), 429, "too_many_attempts")


def test_over_a_real_socket_without_trusted_proxies_forwarded_for_is_ignored(live) -> None:
    client = live(ATELIERS_LOGIN_FAILURES_PER_ADDRESS_LIMIT=str(ADDRESS_LIMIT))
    for n in range(ADDRESS_LIMIT):
        failure = _login(client, f"nobody-{n}@example.org", WRONG_PASSWORD, f"203.0.113.{n + 1}")
        assert_problem(failure, 401, "invalid_credentials")

    answer = _login(client, registration()["email"], PASSWORD, "203.0.113.200")

    assert_problem(answer, 429, "too_many_attempts")


# 8. API keys do not mint API keys, and live a year at most


def mint(client: TestClient, expires_at: str, **headers: str) -> httpx.Response:
    return client.post(
        "/auth/api-keys",
        json={"name": "script", "role": "secretariat", "expires_at": expires_at},
        headers=headers,
    )


def test_an_api_key_cannot_mint_an_api_key(anonymous: TestClient, secretariat: TestClient) -> None:
    parent = mint(secretariat, (START + timedelta(days=1)).isoformat()).json()

    answer = mint(anonymous, "9000-01-01T00:00:00Z", Authorization=f"Bearer {parent['key']}")
    within_a_year = mint(
        anonymous, (START + timedelta(days=30)).isoformat(), Authorization=f"Bearer {parent['key']}"
    )

    assert_problem(answer, 403, "forbidden")
    assert_problem(within_a_year, 403, "forbidden")
    assert [key["id"] for key in secretariat.get("/auth/api-keys").json()["items"]] == [parent["id"]]


@pytest.mark.parametrize(
    "expires_at",
    [
        "9000-01-01T00:00:00Z",
        "9999-12-31T23:00:00-05:00",
        "9999-12-31T23:59:59-23:59",
        (START + timedelta(days=365, seconds=1)).isoformat(),
    ],
)
def test_api_key_expiry_more_than_a_year_ahead_is_validation_error(
    secretariat: TestClient, expires_at: str
) -> None:
    body = assert_problem(mint(secretariat, expires_at), 422, "validation_error")

    assert [tuple(error["loc"]) for error in body["errors"]] == [("body", "expires_at")]


def test_api_key_may_live_exactly_a_year(secretariat: TestClient) -> None:
    answer = mint(secretariat, (START + timedelta(days=365)).isoformat())

    assert answer.status_code == 201, answer.text


# 9. Deactivation revokes every credential; reactivation brings none back


def test_reactivation_brings_back_no_credential_of_before(
    anonymous: TestClient, make_user: Callable[..., TestClient], secretariat: TestClient
) -> None:
    colleague = make_user(Role.secretariat)
    key = mint(colleague, (START + timedelta(days=30)).isoformat()).json()["key"]
    access, refresh_token = colleague.tokens["access_token"], colleague.tokens["refresh_token"]
    assert anonymous.get("/users/me", headers=bearer(key)).status_code == 200

    for active in (False, True):
        changed = secretariat.patch(f"/users/{colleague.user['id']}", json={"active": active})
        assert changed.status_code == 200, changed.text

    assert_unauthorized(anonymous.get("/users/me", headers=bearer(access)))
    assert_unauthorized(anonymous.post("/auth/refresh", json={"refresh_token": refresh_token}))
    assert_unauthorized(anonymous.get("/users/me", headers=bearer(key)))
    assert secretariat.get("/auth/api-keys").json()["items"] == []
    login = request_token(anonymous, colleague.user["email"], PASSWORD)
    assert login.status_code == 200, login.text
    assert anonymous.get("/users/me", headers=bearer(login.json()["access_token"])).status_code == 200


# 10. Answers that carry a credential are never cached


def test_credential_answers_are_not_stored(anonymous: TestClient, secretariat: TestClient) -> None:
    login = request_token(anonymous, secretariat.user["email"], PASSWORD)
    rotated = anonymous.post("/auth/refresh", json={"refresh_token": login.json()["refresh_token"]})
    minted = mint(secretariat, (START + timedelta(days=30)).isoformat())

    for answer in (login, rotated, minted):
        assert answer.status_code in (200, 201), answer.text
        assert answer.headers["cache-control"] == "no-store"
