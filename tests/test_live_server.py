"""The middleware stack under a real uvicorn and a real socket, as partner sites meet it."""

import httpx

from tests.conftest import LiveServer


def test_public_listing_over_a_real_socket(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=5) as client:
        answer = client.get("/api/v1/sessions", headers={"Origin": "https://partner.example"})
        assert answer.status_code == 200
        assert answer.json() == {"items": [], "total": 0, "limit": 20, "offset": 0}
        assert answer.headers["access-control-allow-origin"] == "*"
        assert answer.headers["x-content-type-options"] == "nosniff"
        etag = answer.headers["etag"]
        assert client.get("/api/v1/sessions", headers={"If-None-Match": etag}).status_code == 304


def test_errors_and_limits_over_a_real_socket(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=5) as client:
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
