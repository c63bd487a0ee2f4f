"""The HTTP/1.1 protocol that `ateliers serve` runs: uvicorn's httptools one, with bounded request heads.

uvicorn limits neither the size of a request head (httptools buffers a header line of any length)
nor the time a client takes to send one (its keep-alive timer stops at the first byte). This protocol
answers 431 to a head over `max_header_bytes` without buffering more of it, and 408 to a head not
complete `header_timeout_seconds` after the connection opened or the request's first byte arrived.
It also closes a connection once an answer is sent while the request body is still arriving, so a
body that no one reads cannot keep the connection open. uvicorn loads it by its import string,
`api.edge.server:BoundedHttpToolsProtocol`, in every worker process.
"""

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from api.config import get_settings
from api.edge.middleware import API_SECURITY_HEADERS
from api.edge.problem import problem_response


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a size limit and a deadline on every request head."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()
        self.max_head_bytes = settings.max_header_bytes
        self.head_timeout = settings.header_timeout_seconds
        # Bytes of the current request head seen so far; None while its body is being received.
        self.head_bytes: int | None = 0
        self.heads_completed = 0
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a byte is held only this long.
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return  # refused or timed out: nothing more is parsed
        if self.head_bytes is None:
            super().data_received(data)
            return
        self._start_head_timer()
        room = self.max_head_bytes - self.head_bytes
        if len(data) <= room:
            self.head_bytes += len(data)
            super().data_received(data)
            return
        # httptools buffers a header until its end: feed it no more than the head may hold.
        heads = self.heads_completed
        self.head_bytes += room
        if room > 0:
            super().data_received(data[:room])
        if self.heads_completed == heads:
            detail = f"The request head exceeds {self.max_head_bytes} bytes."
            self._refuse(431, "headers_too_large", "Request head too large", detail)
            return
        self.data_received(data[room:])

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_head_timer()

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        self.head_bytes = None
        self.heads_completed += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.head_bytes = 0
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Answered before its body was all received: only closing stops a client trickling the rest.
        if self.head_bytes is None and not self.pipeline and not self.transport.is_closing():
            self.transport.close()

    def _start_head_timer(self) -> None:
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        if self.head_bytes:
            detail = "The request head was not received in time."
            self._refuse(408, "request_timeout", "Request timeout", detail)
        else:
            self.transport.close()  # an idle connection needs no answer

    def _refuse(self, status: int, code: str, title: str, detail: str) -> None:
        """Answers a problem and closes, or only closes while an earlier answer is still being sent."""
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()
            return
        answer = problem_response(status, code, detail, title=title, headers={"Connection": "close"})
        headers = [*self.server_state.default_headers, *answer.raw_headers, *API_SECURITY_HEADERS]
        content = [STATUS_LINE[status]]
        for name, value in headers:
            content += [name, b": ", value, b"\r\n"]
        content += [b"\r\n", bytes(answer.body)]
        self.transport.write(b"".join(content))
        self.transport.close()
