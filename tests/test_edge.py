"""The service's edge under attack: heads too large or too slow, bodies too large or too slow,
forged log lines, and the Content-Security-Policy of every answer.

The attacks that only a real server meets go over raw sockets to `ateliers serve` on 127.0.0.1
(the `live_server` fixture, with 2-second deadlines); every loop is bounded in count and time.
"""

import base64
import contextlib
import hashlib
import io
import json
import logging
import re
import select
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI, UploadFile
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.config import Settings
from api.edge.body_limits import BoundedBodyRoute
from api.observability import JsonFormatter, TextFormatter
from tests.conftest import LIVE_BODY_TIMEOUT_SECONDS, LIVE_HEADER_TIMEOUT_SECONDS, LiveServer
from tests.factories import api_routes
from tests.problems import assert_problem

# Long enough for any deadline of the live server to pass, short enough to fail fast without one.
CUT_OFF_WITHIN = 4 * max(LIVE_HEADER_TIMEOUT_SECONDS, LIVE_BODY_TIMEOUT_SECONDS)
MIB = 1024 * 1024
JSON = {"content-type": "application/json"}
OPENAPI = json.loads((Path(__file__).parent.parent / "openapi" / "openapi.json").read_text(encoding="utf-8"))


def _connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def _until_closed(sock: socket.socket, within: float = CUT_OFF_WITHIN) -> bytes:
    """All the server sends until it closes the connection, which it must do within `within` seconds."""
    received = b""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the server kept the connection open; it sent {received[:200]!r}")


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def _problem(answer: bytes) -> dict[str, Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head.lower()
    problem: dict[str, Any] = json.loads(body)
    return problem


def _trickle(sock: socket.socket, pieces: list[bytes], every: float) -> int:
    """Sends one piece every `every` seconds until the server answers or closes; how many were sent."""
    sent = 0
    for piece in pieces:
        readable, _, _ = select.select([sock], [], [], every)
        if readable:
            break  # an answer, or the connection closed
        try:
            sock.sendall(piece)
        except OSError:
            break
        sent += 1
    return sent


def _rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    kib = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
    assert kib, status
    return int(kib.group(1)) * 1024


def _request_head(method: str, path: str, **headers: str) -> bytes:
    fields = [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *fields, "", ""]).encode()


def _json_head(path: str, length: int, **headers: str) -> bytes:
    return _request_head("POST", path, Content_Type="application/json", Content_Length=str(length), **headers)


# Logs


def test_a_newline_in_a_path_cannot_forge_a_log_line(live_server: LiveServer) -> None:
    with _connect(live_server) as sock:
        sock.sendall(_request_head("GET", "/api/v1/x%0a2026-01-01%20INFO%20forged", Connection="close"))
        assert _status(_until_closed(sock)) == 404
    deadline = time.monotonic() + 5
    lines: list[str] = []
    while time.monotonic() < deadline and not any("forged" in line for line in lines):
        time.sleep(0.1)  # the server writes its log line after the answer
        lines = live_server.log.read_text(encoding="utf-8").splitlines()
    forged = [line for line in lines if "forged" in line]
    assert len(forged) == 1, lines
    assert "GET /api/v1/x\\n2026-01-01 INFO forged 404" in forged[0]


@pytest.mark.parametrize("formatter", [TextFormatter("%(levelname)s %(name)s %(message)s"), JsonFormatter()])
def test_control_characters_are_escaped_in_every_log_format(
    anonymous: TestClient, formatter: logging.Formatter
) -> None:
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(formatter)
    requests = logging.getLogger("ateliers.requests")
    requests.addHandler(handler)
    try:
        # A newline, a carriage return, DEL, NEL (C1), the line separator, and an accent to keep.
        anonymous.get("/séance%0d%0aINFO%20forged%7f%c2%85%e2%80%a8%e2%80%a9end")
    finally:
        requests.removeHandler(handler)
    [line] = output.getvalue().splitlines()
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029]", line)
    assert "séance" in line
    if isinstance(formatter, JsonFormatter):
        assert json.loads(line)["path"] == "/api/v1/séance\r\nINFO forged\x7f\x85\u2028\u2029end"
    else:
        assert "/api/v1/séance\\r\\nINFO forged\\x7f\\x85\\u2028\\u2029end 404" in line


# Content-Security-Policy


def _policy(answer: httpx.Response) -> dict[str, list[str]]:
    directives = [d.split() for d in answer.headers["content-security-policy"].split(";") if d.strip()]
    return {name: sources for name, *sources in directives}


def test_api_answers_carry_a_policy_that_allows_nothing(anonymous: TestClient, settings: Settings) -> None:
    answers = [
        anonymous.get("/sessions"),
        anonymous.get("/no-such-resource"),
        anonymous.post("/sessions", content=b"x" * (settings.max_body_bytes + 1), headers=JSON),
        anonymous.get("http://testserver/openapi.json"),
    ]
    assert [a.status_code for a in answers] == [200, 404, 413, 200]
    for answer in answers:
        policy = _policy(answer)
        assert policy["default-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["base-uri"] == ["'none'"]


def _inline_script_hashes(html: str) -> list[str]:
    scripts = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    return [f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _served_here(anonymous: TestClient, url: str, media_type: str) -> None:
    """An asset of a documentation page comes from the service itself, not from another origin."""
    assert url.startswith("/docs/assets/"), url
    asset = anonymous.get(f"http://testserver{url}")
    assert asset.status_code == 200, url
    assert asset.headers["content-type"].startswith(media_type)
    assert len(asset.content) > 1000


def test_swagger_ui_loads_everything_from_the_service_and_runs_its_own_script_only(
    anonymous: TestClient,
) -> None:
    answer = anonymous.get("http://testserver/docs")
    html = answer.text
    policy = _policy(answer)
    assert "https://" not in html and "http://" not in html  # nothing from a CDN: it works offline
    assert policy["default-src"] == ["'none'"]
    [script_url] = re.findall(r'<script src="([^"]+)"', html)
    [stylesheet] = re.findall(r'<link type="text/css" rel="stylesheet" href="([^"]+)"', html)
    [icon] = re.findall(r'<link rel="shortcut icon" href="([^"]+)"', html)
    _served_here(anonymous, script_url, "text/javascript")
    _served_here(anonymous, stylesheet, "text/css")
    _served_here(anonymous, icon, "image/png")
    hashes = _inline_script_hashes(html)
    assert len(hashes) == 1
    assert sorted(policy["script-src"]) == sorted(["'self'", *hashes])
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]  # Swagger UI sets inline styles
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["connect-src"] == ["'self'"]  # the schema, and "Try it out"
    assert policy["frame-ancestors"] == ["'none'"]

    redirect = anonymous.get("http://testserver/docs/oauth2-redirect")
    assert _policy(redirect)["script-src"] == _inline_script_hashes(redirect.text)


def test_redoc_loads_everything_from_the_service(anonymous: TestClient) -> None:
    answer = anonymous.get("http://testserver/redoc")
    policy = _policy(answer)
    assert "https://" not in answer.text and "http://" not in answer.text
    [script_url] = re.findall(r'<script src="([^"]+)"', answer.text)
    _served_here(anonymous, script_url, "text/javascript")
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" in policy["style-src"]  # its own <style> and the ones Redoc injects
    assert "font-src" not in policy  # no web fonts: the system's
    assert policy["worker-src"] == ["blob:"]  # Redoc's search runs in a worker made from a blob
    assert policy["connect-src"] == ["'self'"]


# Request bodies: limits


def test_a_body_over_the_route_limit_is_refused_before_it_is_read(live_server: LiveServer) -> None:
    # 5 MB is under the service-wide limit, but no refresh token is that long: no body byte is sent.
    with _connect(live_server) as sock:
        sock.sendall(_json_head("/api/v1/auth/refresh", 5_000_000))
        answer = _until_closed(sock)
    assert _status(answer) == 413
    assert _problem(answer)["code"] == "payload_too_large"


def test_oversized_bodies_at_once_are_all_refused_and_health_still_answers(live_server: LiveServer) -> None:
    start = _json_head("/api/v1/auth/refresh", 5_000_000) + b'{"refresh_token": "' + b"a" * 65536

    def attack(_: int) -> int:
        with _connect(live_server) as sock:
            with contextlib.suppress(OSError):  # refused while still sending
                sock.sendall(start)
            return _status(_until_closed(sock))

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = pool.map(attack, range(10))
        health = httpx.get(f"{live_server.url}/healthz", timeout=5)
        assert list(statuses) == [413] * 10
    assert health.status_code == 200


def test_every_route_has_a_body_limit_of_its_own(app: FastAPI) -> None:
    routes = list(api_routes(app.routes))
    assert len(routes) > 20
    assert [r.name for r in routes if not isinstance(r, BoundedBodyRoute)] == []
    by_name = {route.name: route for route in routes if isinstance(route, BoundedBodyRoute)}
    for name in ("register", "log_in", "refresh_tokens", "log_out"):
        limit = by_name[name].max_body_bytes
        assert limit is not None and limit <= 16 * 1024, (name, limit)


# A character of three bytes in UTF-8: six once escaped in JSON, nine once percent-encoded in a form.
WIDE = "€"
_FORMATTED = {
    "date": "2016-03-07",
    "date-time": "2016-03-07T09:30:00.000000+01:00",
    "time": "09:30:00.000000",
}


def _largest_value(schema: dict[str, Any]) -> Any:
    """The value with the longest encoding that a JSON schema allows, by its declared bounds."""
    if "$ref" in schema:
        return _largest_value(OPENAPI["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]])
    if "const" in schema:
        return schema["const"]
    choices = schema.get("enum") or [_largest_value(s) for s in schema.get("anyOf", schema.get("oneOf", []))]
    if choices:
        return max(choices, key=lambda value: len(json.dumps(value)))
    kind = schema.get("type")
    if kind == "string":
        return WIDE * schema["maxLength"] if "maxLength" in schema else _FORMATTED[schema["format"]]
    if kind == "integer":
        return max(schema.get("minimum", -(2**63)), schema.get("maximum", 0), key=lambda n: len(str(n)))
    if kind == "number":
        return -1.7976931348623157e308
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    if kind == "array":
        return [_largest_value(schema["items"])] * schema["maxItems"]
    if kind == "object":
        fixed = {name: _largest_value(value) for name, value in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties")
        if not extra:
            return fixed
        # A bounded mapping: as many keys as allowed, each as long as allowed.
        length = schema["propertyNames"]["maxLength"]
        value = _largest_value(extra)
        keys = (f"{n}" + WIDE * (length - len(str(n))) for n in range(schema["maxProperties"]))
        return {**{key: value for key in keys}, **fixed}
    raise AssertionError(f"no bound in {schema}")


_BODIES = [
    (method.upper(), path, operation)
    for path, item in OPENAPI["paths"].items()
    for method, operation in item.items()
    if "requestBody" in operation
]


@pytest.mark.parametrize(("method", "path", "operation"), _BODIES, ids=[f"{m} {p}" for m, p, _ in _BODIES])
def test_the_largest_valid_body_of_every_route_is_accepted(
    app: FastAPI, anonymous: TestClient, settings: Settings, method: str, path: str, operation: dict[str, Any]
) -> None:
    [(media_type, content)] = operation["requestBody"]["content"].items()
    routes = {route.name: route for route in api_routes(app.routes)}
    if media_type == "multipart/form-data":
        # An upload streams under the service-wide limit and bounds its file itself; the documents'
        # tests send the largest one accepted.
        assert getattr(routes[operation["operationId"]], "max_body_bytes", 0) is None
        return
    largest = _largest_value(content["schema"])
    if media_type == "application/json":
        body = json.dumps(largest).encode()
    else:
        assert media_type == "application/x-www-form-urlencoded", media_type
        body = urlencode({k: v for k, v in largest.items() if v is not None}).encode()
    limit = getattr(routes[operation["operationId"]], "max_body_bytes", None) or settings.max_body_bytes
    assert min(limit, settings.max_body_bytes) >= len(body)
    url = "http://testserver" + re.sub(r"\{[^}]+\}", "1", path)
    answer = anonymous.request(method, url, content=body, headers={"content-type": media_type})
    assert answer.status_code != 413, answer.text


def test_a_multipart_form_with_too_many_fields_is_a_validation_error(
    app: FastAPI, anonymous: TestClient
) -> None:
    async def receive_document(file: UploadFile) -> dict[str, str]:
        return {"name": file.filename or ""}

    app.add_api_route("/api/v1/documents", receive_document, methods=["POST"])
    fields = {f"field{i}": "x" for i in range(1001)}
    files = {"file": ("cv.pdf", b"%PDF-1.4 ...", "application/pdf")}
    body = assert_problem(anonymous.post("/documents", data=fields, files=files), 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body"]
    assert anonymous.post("/documents", files=files).status_code == 200


# Request bodies: deadlines


def test_a_half_sent_body_is_answered_408(live_server: LiveServer) -> None:
    with _connect(live_server) as sock:
        sock.sendall(_json_head("/api/v1/auth/refresh", 100) + b'{"refresh')
        answer = _until_closed(sock)
    assert _status(answer) == 408
    assert b"connection: close" in answer.lower()
    assert _problem(answer)["code"] == "request_timeout"


def test_a_trickled_body_is_cut_off_but_a_slow_steady_upload_is_not(live_server: LiveServer) -> None:
    # 1 KiB at a byte every quarter second: the deadline is the idle timeout, whatever the pace.
    with _connect(live_server) as sock:
        sock.sendall(_json_head("/api/v1/auth/refresh", 1024))
        sent = _trickle(sock, [b" "] * 48, every=0.25)
        answer = _until_closed(sock)
    assert sent < 48, "the server waited for the whole trickled body"
    assert _status(answer) == 408

    # 320 KiB in 16 KiB pieces over about 4 s, twice the idle timeout: its length earns it the time.
    body = json.dumps({"description": "x" * (320 * 1024)}).encode()
    pieces = [body[i : i + 16384] for i in range(0, len(body), 16384)]
    with _connect(live_server) as sock:
        sock.sendall(_json_head("/api/v1/sessions", len(body), Connection="close"))
        sent = _trickle(sock, pieces, every=0.2)
        answer = _until_closed(sock)
    assert sent == len(pieces)
    assert _status(answer) == 401  # read whole, then refused for want of a token


# Request heads


def test_a_huge_request_head_is_refused_without_being_buffered(live_server: LiveServer) -> None:
    httpx.get(f"{live_server.url}/healthz")  # everything a request loads is loaded
    before = _rss_bytes(live_server.pid)
    sent = 0
    with _connect(live_server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ")
        deadline = time.monotonic() + 10
        while sent < 50 * MIB and time.monotonic() < deadline:
            try:
                sock.sendall(b"a" * 65536)
            except OSError:
                break  # the server stopped reading and closed
            sent += 65536
        answer = _until_closed(sock)
    assert sent < 50 * MIB, "the server read a 50 MiB header"
    if answer:
        assert _status(answer) == 431
        assert _problem(answer)["code"] == "headers_too_large"
    assert _rss_bytes(live_server.pid) - before < 10 * MIB
    assert httpx.get(f"{live_server.url}/healthz").status_code == 200


def test_a_head_sent_a_line_at_a_time_is_cut_off(live_server: LiveServer) -> None:
    lines = [b"X-Trickle: 1\r\n"] * 24
    with _connect(live_server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sent = _trickle(sock, lines, every=0.5)
        answer = _until_closed(sock)
    assert sent < len(lines), "the server waited for the whole trickled head"
    assert _status(answer) == 408
    assert _problem(answer)["code"] == "request_timeout"


def test_a_keep_alive_connection_cannot_trickle_its_next_head(live_server: LiveServer) -> None:
    lines = [b"X-Trickle: 1\r\n"] * 24
    with _connect(live_server) as sock:
        sock.sendall(_request_head("GET", "/healthz"))
        first = b""
        while not first.endswith(b'{"status":"ok"}'):
            chunk = sock.recv(4096)
            assert chunk, "the first request was not answered"
            first += chunk
        # The first byte of the next request stops uvicorn's keep-alive timer; the head deadline starts.
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        sent = _trickle(sock, lines, every=0.5)
        answer = _until_closed(sock)
    assert sent < len(lines), "the server waited for the whole trickled head"
    assert _status(answer) == 408


def test_a_connection_that_sends_nothing_is_closed(live_server: LiveServer) -> None:
    with _connect(live_server) as sock:
        assert _until_closed(sock) == b""


@pytest.mark.parametrize(
    "setting",
    [
        {"max_header_bytes": 100},
        {"header_timeout_seconds": 0},
        {"body_timeout_seconds": 3600},
        {"body_min_bytes_per_second": 1},
    ],
)
def test_edge_settings_refuse_unsafe_values(setting: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Settings(**setting)
