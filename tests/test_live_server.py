"""The middleware stack under a real uvicorn and a real socket, as partner sites meet it."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import TEST_SECRET_KEY


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def live_server(database_url: str, tmp_path) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "ATELIERS_ENV": "test",
        "ATELIERS_SECRET_KEY": TEST_SECRET_KEY,
        "ATELIERS_DATABASE_URL": database_url,
        "ATELIERS_STORAGE_DIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)  # the server is still starting
        else:
            pytest.fail("uvicorn did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_public_listing_over_a_real_socket(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=5) as client:
        answer = client.get("/api/v1/sessions", headers={"Origin": "https://partner.example"})
        assert answer.status_code == 200
        assert answer.json() == {"items": [], "total": 0, "limit": 20, "offset": 0}
        assert answer.headers["access-control-allow-origin"] == "*"
        assert answer.headers["x-content-type-options"] == "nosniff"
        etag = answer.headers["etag"]
        assert client.get("/api/v1/sessions", headers={"If-None-Match": etag}).status_code == 304


def test_errors_and_limits_over_a_real_socket(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=5) as client:
        refused = client.post("/api/v1/sessions", json={})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.headers["content-type"] == "application/problem+json"
        too_big = client.post(
            "/api/v1/auth/register",
            content=b"x" * (7 * 1024 * 1024),
            headers={"content-type": "application/json"},
        )
        assert too_big.status_code == 413
        assert too_big.json()["code"] == "payload_too_large"
        echoed = client.get("/healthz", headers={"X-Request-ID": "live-1"})
        assert echoed.headers["x-request-id"] == "live-1"
