"""Conditional requests: strong ETags, If-None-Match (304), If-Match (412), rendered listings."""

import hashlib
import threading
from collections import OrderedDict

from fastapi import Request

from api.errors import PreconditionFailed

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
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = _listed_etags(header)
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


class RenderedCache:
    """Rendered bodies by ETag; an ETag embeds the database's catalogue version, so no entry is stale."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
            return body

    def put(self, key: str, body: bytes) -> None:
        with self._lock:
            self._entries[key] = body
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
