"""ASGI middleware: request ids and logs, security headers, body limits and deadlines, public CORS."""

import asyncio
import base64
import hashlib
import logging
import re
import time
import uuid
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.edge.problem import EdgeRefusal, edge_refusal_response, problem_response

logger = logging.getLogger("ateliers.requests")

# nginx's status for a request its client abandoned before the answer: never sent, only logged.
CLIENT_CLOSED_REQUEST = 499
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# The anonymous reads that partner sites call from their own pages.
_PUBLIC_READS = re.compile(
    r"^/api/v1/(sessions|sessions\.ics|sessions/[^/]+|discounts|discounts/[^/]+"
    r"|certificates/verify/[^/]+|embed/sessions\.js)$"
)

# The API answers data, never pages: nothing in an answer may load, run or be framed.
API_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
API_SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", API_CONTENT_SECURITY_POLICY.encode()),
]
_SECURITY_HEADER_NAMES = {name for name, _ in API_SECURITY_HEADERS} | {b"x-request-id"}
_LOCKED_DOWN = "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Where the documentation pages' scripts, styles and icon are served from (fastapi-offline's copies).
DOCS_ASSETS = "/docs/assets"
# The documentation pages, each allowed what its HTML and scripts load, from this origin only;
# `{scripts}` becomes the hashes of the page's own inline scripts.
_DOCS_POLICIES = {
    "/docs": (
        "default-src 'none'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:; connect-src 'self'; {_LOCKED_DOWN}"
    ),
    "/docs/oauth2-redirect": f"default-src 'none'; script-src {{scripts}}; {_LOCKED_DOWN}",
    "/redoc": (
        "default-src 'none'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:; connect-src 'self'; worker-src blob:; {_LOCKED_DOWN}"
    ),
}
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def docs_content_security_policy(path: str, html: bytes) -> str:
    """The policy of a documentation page, allowing exactly the inline scripts it carries."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return re.sub(" +", " ", _DOCS_POLICIES[path].format(scripts=hashes))


class RequestContextMiddleware:
    """Gives every request an id, logs one line for it, adds the security headers to every answer,
    and turns anything unexpected into a problem+json 500 with the traceback in the log; a client
    that hangs up before its body is read is logged as 499, without a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        docs_page = scope["path"] in _DOCS_POLICIES
        held: list[Message] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in _SECURITY_HEADER_NAMES
                ]
                headers += [*API_SECURITY_HEADERS, (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
                if docs_page:
                    held.append(message)  # its policy depends on the page's scripts
                    return
            elif held:
                held.append(message)
                if message.get("more_body", False):
                    return
                start, *body = held
                html = b"".join(part.get("body", b"") for part in body)
                policy = docs_content_security_policy(scope["path"], html)
                headers = [(k, v) for k, v in start["headers"] if k != b"content-security-policy"]
                await send({**start, "headers": [*headers, (b"content-security-policy", policy.encode())]})
                for message in body:
                    await send(message)
                return
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except EdgeRefusal as refusal:
            if not response_started:
                await edge_refusal_response(refusal)(scope, receive, send_with_headers)
        except ClientDisconnect:
            # The client hung up mid-body: nobody is left to answer, and it is not the server's fault.
            if not response_started:
                status = CLIENT_CLOSED_REQUEST
        except Exception:
            logger.exception("unhandled error", extra={"request_id": request_id})
            if not response_started:
                answer = problem_response(500, "internal_error", "An unexpected error occurred.")
                await answer(scope, receive, send_with_headers)
        finally:
            logger.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )


class BodyTooLarge(EdgeRefusal):
    status, code, title = 413, "payload_too_large", "Request body too large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The request body exceeds {max_bytes} bytes.")


class BodyTimedOut(EdgeRefusal):
    status, code, title = 408, "request_timeout", "Request timeout"

    def __init__(self) -> None:
        super().__init__("The request body was not received in time.")


async def receive_at_most(max_bytes: int, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Runs `app` on a request whose body may hold at most `max_bytes`: a larger Content-Length is
    refused before a byte is read, a chunked body as soon as it grows past the limit (413)."""
    declared = dict(scope["headers"]).get(b"content-length")
    if declared is not None:
        if not declared.isdigit() or int(declared) > max_bytes:
            raise BodyTooLarge(max_bytes)
        # The server delivers no more than the declared length.
        await app(scope, receive, send)
        return
    received = 0

    async def receive_within_limit() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise BodyTooLarge(max_bytes)
        return message

    await app(scope, receive_within_limit, send)


class BodySizeLimitMiddleware:
    """Refuses bodies over the service's limit with 413, whatever the path; routes set tighter limits."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await receive_at_most(self.max_bytes, self.app, scope, receive, send)


class BodyDeadlineMiddleware:
    """Cuts off a body that stalls or trickles with 408: each read must come within `idle_seconds`,
    and the whole body within `idle_seconds` plus its length at `min_bytes_per_second`."""

    def __init__(self, app: ASGIApp, *, idle_seconds: float, min_bytes_per_second: int) -> None:
        self.app = app
        self.idle_seconds = idle_seconds
        self.min_bytes_per_second = min_bytes_per_second

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared in (None, b"0") and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body to wait for
            return
        length = int(declared) if declared is not None and declared.isdigit() else None
        loop = asyncio.get_running_loop()
        started = loop.time()
        received = 0
        complete = False

        async def receive_in_time() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()  # past the body, only a disconnect comes: not the client's delay
            # A chunked body earns its time as it arrives; a declared one has it from the start.
            earned = (received if length is None else length) / self.min_bytes_per_second
            allowance = self.idle_seconds + earned
            wait = min(self.idle_seconds, started + allowance - loop.time())
            if wait <= 0:
                raise BodyTimedOut()
            try:
                async with asyncio.timeout(wait):
                    message = await receive()
            except TimeoutError:
                raise BodyTimedOut() from None
            received += len(message.get("body", b""))
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, receive_in_time, send)


class PublicReadCorsMiddleware:
    """Any origin may read the public listing and the embed script, never with credentials."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _PUBLIC_READS.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        headers = dict(scope["headers"])
        if method == "OPTIONS" and b"access-control-request-method" in headers:
            allowed = headers[b"access-control-request-method"] in (b"GET", b"HEAD")
            preflight: list[tuple[bytes, bytes]] = [(b"vary", b"origin")]
            if allowed:
                preflight += [
                    (b"access-control-allow-origin", b"*"),
                    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
                    (
                        b"access-control-allow-headers",
                        b"accept, accept-language, if-none-match, x-request-id",
                    ),
                    (b"access-control-max-age", b"86400"),
                ]
            await send(
                {"type": "http.response.start", "status": 204 if allowed else 400, "headers": preflight}
            )
            await send({"type": "http.response.body", "body": b""})
            return
        if method not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra: list[Any] = [
                    (b"access-control-allow-origin", b"*"),
                    (b"access-control-expose-headers", b"etag, x-request-id, retry-after"),
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)


class HeadAsGetMiddleware:
    """HEAD answers what GET would, without the body (RFC 9110), for every readable resource."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)
