"""Conditional requests: strong ETags, If-None-Match (304), If-Match (412), and cached public reads."""

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from fastapi import Request, Response
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from api.clock import paris_today
from api.db.engine import open_session
from api.db.transactions import run_in_transaction
from api.errors import DatabaseUnavailable, PreconditionFailed

PUBLIC_CACHE_CONTROL = "public, no-cache"
PRIVATE_CACHE_CONTROL = "private, no-cache"


def strong_etag(*parts: bytes | str) -> str:
    """A strong validator: the hash of what identifies the representation byte for byte."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode() if isinstance(part, str) else part)
        hasher.update(b"\x1f")
    return f'"{hasher.hexdigest()[:32]}"'


def _listed_etags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def not_modified(request: Request, etag: str) -> bool:
    """True when the client's If-None-Match already names this representation (weak comparison)."""
    return names_etag(request.headers.get("if-none-match"), etag)


def names_etag(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = _listed_etags(if_none_match)
    return "*" in tags or etag in {tag.removeprefix("W/") for tag in tags}


def require_if_match(request: Request, etag: str) -> None:
    """Refuse a write whose If-Match names another version of the resource (strong comparison)."""
    header = request.headers.get("if-match")
    if header is None:
        return
    tags = _listed_etags(header)
    if "*" in tags or etag in tags:
        return
    raise PreconditionFailed("The session has changed since you read it; fetch it again.")


@dataclass(frozen=True, slots=True)
class Rendered:
    etag: str
    body: bytes
    media_type: str


class RenderedCache:
    """Rendered answers by a key that embeds the version of what they show: no entry is ever stale,
    and old ones age out. Bounded by the bytes it holds, so no sequence of queries can grow it."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, Rendered] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Rendered | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: Rendered) -> None:
        size = len(key) + len(entry.body)
        if size > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= len(key) + len(previous.body)
            self._entries[key] = entry
            self._bytes += size
            while self._bytes > self.max_bytes:
                old_key, old = self._entries.popitem(last=False)
                self._bytes -= len(old_key) + len(old.body)

    @property
    def size_bytes(self) -> int:
        return self._bytes


def rendered_key(scope: Scope, *, version: int, today: date, private: bool) -> str:
    """What a rendered answer depends on: the request's path and query as sent, the catalogue
    version, the Paris date (what is open changes at midnight) and who may see drafts."""
    audience = "private" if private else "public"
    return f"{_request_line(scope)}#{version}#{today.isoformat()}#{audience}"


def _request_line(scope: Scope) -> str:
    """The path and query as sent: a cached key is only ever a request its route accepted."""
    return f"{scope['path']}?{scope['query_string'].decode('latin-1')}"


def cache_headers(etag: str, *, public: bool) -> dict[str, str]:
    """What lets a client or proxy keep an answer and revalidate it on every use."""
    return {
        "ETag": etag,
        "Cache-Control": PUBLIC_CACHE_CONTROL if public else PRIVATE_CACHE_CONTROL,
        "Vary": "Authorization",
    }


async def catalogue_answer(
    request: Request,
    *,
    private: bool,
    today: date,
    media_type: str,
    render: Callable[[Session], bytes],
) -> Response:
    """A catalogue read answered from the rendered cache, keyed on the catalogue version read now.

    A miss renders in the thread pool, in a read transaction of its own, and stores the bytes for
    `CachedCatalogueReads` to serve. The ETag is the hash of the bytes, so a change elsewhere in the
    catalogue still lets a client revalidate what it holds with a 304.
    """
    version = await request.app.state.rows.catalogue_version()
    key = rendered_key(request.scope, version=version, today=today, private=private)
    cache: RenderedCache = request.app.state.rendered_cache
    entry = cache.get(key)
    if entry is None:
        body = await run_in_threadpool(_render_in_transaction, request.app.state.engine, render)
        entry = Rendered(etag=strong_etag(body), body=body, media_type=media_type)
        cache.put(key, entry)
    headers = cache_headers(entry.etag, public=not private)
    if not_modified(request, entry.etag):
        return Response(status_code=304, headers=headers)
    return Response(content=entry.body, media_type=entry.media_type, headers=headers)


async def rendered_answer(
    request: Request, *, scope: str | None, render: Callable[[Session], bytes], media_type: str
) -> Response:
    """A read rendered in the thread pool, in a read transaction of its own, and kept under `scope`
    (who reads it, and the version of what it shows) when there is one."""
    cache: RenderedCache = request.app.state.rendered_cache
    key = None if scope is None else f"{_request_line(request.scope)}#{scope}"
    entry = None if key is None else cache.get(key)
    if entry is None:
        body = await run_in_threadpool(_render_in_transaction, request.app.state.engine, render)
        if key is None:
            return Response(content=body, media_type=media_type)
        entry = Rendered(etag=strong_etag(body), body=body, media_type=media_type)
        cache.put(key, entry)
    return Response(content=entry.body, media_type=entry.media_type)


def _render_in_transaction(engine: Engine, render: Callable[[Session], bytes]) -> bytes:
    return run_in_transaction(open_session(engine, write=False), render)


class CachedCatalogueReads:
    """Answers an anonymous catalogue read from the rendered cache before routing.

    A partner site's page asks the same few URLs over and over: when the route has already rendered
    one for the current catalogue version, its bytes go out after one row read, without routing,
    dependencies or validation (a key in the cache is a request the route accepted). Anything else,
    a credential included, goes on to the route, which answers the same way on a hit.
    """

    def __init__(self, app: ASGIApp, *, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        if_none_match = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                await self.app(scope, receive, send)
                return
            if name == b"if-none-match":
                if_none_match = value.decode("latin-1")
        state = scope["app"].state
        try:
            version = await state.rows.catalogue_version()
        except DatabaseUnavailable:
            await self.app(scope, receive, send)  # the route answers the problem
            return
        today = paris_today(state.clock.now())
        entry = state.rendered_cache.get(rendered_key(scope, version=version, today=today, private=False))
        if entry is None:
            await self.app(scope, receive, send)
            return
        public = cache_headers(entry.etag, public=True)
        headers = [(name.lower().encode(), value.encode()) for name, value in public.items()]
        if names_etag(if_none_match, entry.etag):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers += [
            (b"content-type", entry.media_type.encode()),
            (b"content-length", str(len(entry.body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": entry.body})
