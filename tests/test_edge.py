"""The service's edge under attack: heads too large or too slow, bodies too large or too slow,
forged log lines, and the Content-Security-Policy of every answer.

The attacks that only a real server meets go over raw sockets to `ateliers serve` on 127.0.0.1
(the `live_server` fixture, with 2-second deadlines); every loop is bounded in count and time.
"""

import base64
import hashlib
import io
import json
import logging
import re
import select
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.observability import JsonFormatter, TextFormatter
from tests.conftest import LIVE_BODY_TIMEOUT_SECONDS, LIVE_HEADER_TIMEOUT_SECONDS, LiveServer

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


def test_swagger_ui_is_allowed_what_it_loads_and_its_own_script_only(anonymous: TestClient) -> None:
    answer = anonymous.get("http://testserver/docs")
    html = answer.text
    policy = _policy(answer)
    assert policy["default-src"] == ["'none'"]
    [script_url] = re.findall(r'<script src="([^"]+)"', html)
    [stylesheet] = re.findall(r'<link type="text/css" rel="stylesheet" href="([^"]+)"', html)
    [icon] = re.findall(r'<link rel="shortcut icon" href="([^"]+)"', html)
    hashes = _inline_script_hashes(html)
    assert len(hashes) == 1
    assert sorted(policy["script-src"]) == sorted([_origin(script_url), *hashes])
    assert _origin(stylesheet) in policy["style-src"]
    assert _origin(icon) in policy["img-src"]
    assert policy["connect-src"] == ["'self'"]  # the schema, and "Try it out"
    assert policy["frame-ancestors"] == ["'none'"]

    redirect = anonymous.get("http://testserver/docs/oauth2-redirect")
    assert _policy(redirect)["script-src"] == _inline_script_hashes(redirect.text)


def test_redoc_is_allowed_what_it_loads(anonymous: TestClient) -> None:
    answer = anonymous.get("http://testserver/redoc")
    policy = _policy(answer)
    [script_url] = re.findall(r'<script src="([^"]+)"', answer.text)
    [fonts] = re.findall(r'<link href="([^"]+)" rel="stylesheet">', answer.text)
    assert policy["script-src"] == [_origin(script_url)]
    assert _origin(fonts) in policy["style-src"]
    assert "'unsafe-inline'" in policy["style-src"]  # its own <style> and the ones Redoc injects
    assert policy["font-src"] == ["https://fonts.gstatic.com"]
    assert policy["worker-src"] == ["blob:"]  # Redoc's search runs in a worker made from a blob
    assert policy["connect-src"] == ["'self'"]
