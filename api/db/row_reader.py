"""Single indexed rows read on the event loop: what lets a hot read go without a thread hop.

Two kinds of rows are read here on every request that needs them: the credential behind a bearer
token (its user, or its API key), and the version rows that cached answers are keyed on. Every
write a cached answer shows bumps its version in the write's own transaction
(api/services/catalogue.py; the application lists' by triggers, migrations 0009 and 0012), and
every read asks the database again: a change committed through any process is seen by the next
read through every other (docs/caching.md).

Each process reads in autocommit, directly from the event loop: one indexed row is a few
microseconds on SQLite, read on one connection of the process's own. On PostgreSQL it is a round
trip, which held the event loop for a third of its time under the secretariat's list: the server's
loop (the one `start` is awaited on, in the app's lifespan) reads on a few asynchronous connections
of its own and serves other requests while PostgreSQL answers. The database alone chooses the
path, as for the writes (api/db/transactions.py). A read runs within the database timeout, or its connection
is dropped and the request answered 503; for a second after a failure that took that long,
requests get 503 at once instead of each waiting out the timeout again.
"""

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import anyio
import psycopg
from sqlalchemy import Engine, Table, event
from sqlalchemy.orm import configure_mappers
from sqlalchemy.pool import PoolProxiedConnection
from sqlmodel import SQLModel

from api.errors import DatabaseUnavailable
from models.base import stored_row
from models.credential import ApiKey
from models.user import User

logger = logging.getLogger("ateliers.rows")

UNAVAILABLE = "The database cannot be reached right now; try again shortly."
# A failed read that held the event loop longer than this makes the next second answer 503 at once;
# one that failed fast (refused, missing) is retried by the next request.
_STALL_SECONDS = 0.1
# Asynchronous PostgreSQL connections of the server's loop: reads wait on each other beyond these.
ASYNC_CONNECTIONS = 4
Model = TypeVar("Model", bound=SQLModel)


class _RowShape:
    """How one table's row is selected by one column and turned into a detached model instance."""

    def __init__(self, engine: Engine, model: type[SQLModel], key: str, marker: str) -> None:
        table: Table = model.__table__  # type: ignore[attr-defined]
        configure_mappers()
        self.model = model
        self.names = [column.name for column in table.columns]
        # The columns' own conversions (dates stored as text on SQLite, for one).
        self.processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(engine.dialect).result_processor(engine.dialect, None)
            for column in table.columns
        ]
        columns = ", ".join(f'"{name}"' for name in self.names)
        self.statement = f'SELECT {columns} FROM "{table.name}" WHERE "{key}" = {marker}'  # noqa: S608

    def build(self, row: tuple[Any, ...]) -> SQLModel:
        # The columns' conversions only: the row is then filled as the ORM fills a loaded one.
        values = {
            name: processor(value) if processor is not None else value
            for name, processor, value in zip(self.names, self.processors, row, strict=True)
        }
        return stored_row(self.model, values)


class RowReader:
    """Reads single rows for one process, on one connection kept for it."""

    def __init__(self, engine: Engine, *, timeout_seconds: float, retry_seconds: float = 1.0) -> None:
        self._engine = engine
        self._timeout_ms = int(timeout_seconds * 1000)
        self._connection: PoolProxiedConnection | None = None
        self._retry_seconds = retry_seconds
        self._retry_at = 0.0
        # The event loop reads; the engine's disposal may close the connection from another thread.
        self._lock = threading.Lock()
        # The driver's own placeholder: sqlite3 takes `?`, psycopg `%s`.
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._user = _RowShape(engine, User, "id", marker)
        self._api_key = _RowShape(engine, ApiKey, "key_hash", marker)
        self._catalogue = "SELECT version FROM catalogue_version WHERE id = 1"
        self._session_applications = f"SELECT applications_version FROM training_session WHERE id = {marker}"  # noqa: S608
        self._postgresql = engine.dialect.name == "postgresql"
        # The server's loop, a cursor on each of its idle asynchronous connections (a cursor made
        # for each read cost a quarter of it), and how many may be in use at once.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list[psycopg.AsyncCursor[Any]] = []
        self._slots: asyncio.Semaphore | None = None
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    async def start(self) -> None:
        """Read without blocking the running loop from now on (PostgreSQL): the server's loop, from
        the app's lifespan."""
        if self._postgresql and self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._slots = asyncio.Semaphore(ASYNC_CONNECTIONS)

    async def stop(self) -> None:
        """Close the asynchronous connections of the loop `start` was awaited on, from that loop."""
        if self._loop is not asyncio.get_running_loop():
            return
        self._loop, self._slots = None, None
        idle, self._idle = self._idle, []
        for cursor in idle:
            await _discard(cursor)

    async def catalogue_version(self) -> int:
        """The catalogue version as committed now: 0 before the first change."""
        row = await self._row(self._catalogue, ())
        return int(row[0]) if row else 0

    async def session_applications_version(self, session_id: int) -> int | None:
        """The version of a session's application lists; None for no such session."""
        row = await self._row(self._session_applications, (session_id,))
        return int(row[0]) if row else None

    async def user(self, user_id: int) -> User | None:
        row = await self._row(self._user.statement, (user_id,))
        return None if row is None else _as(User, self._user.build(row))

    async def api_key(self, key_hash: str) -> ApiKey | None:
        row = await self._row(self._api_key.statement, (key_hash,))
        return None if row is None else _as(ApiKey, self._api_key.build(row))

    async def _row(self, statement: str, parameters: tuple[Any, ...]) -> tuple[Any, ...] | None:
        # The database decides: SQLite reads in place, PostgreSQL on the loop the lifespan started.
        if not self._postgresql:
            return self._blocking_row(statement, parameters)
        if self._loop is not asyncio.get_running_loop():
            raise RuntimeError("On PostgreSQL, rows are read on the loop the app's lifespan started on")
        return await self._row_without_blocking(statement, parameters)

    async def _row_without_blocking(
        self, statement: str, parameters: tuple[Any, ...]
    ) -> tuple[Any, ...] | None:
        assert self._slots is not None
        async with self._slots:
            cursor = self._idle.pop() if self._idle else None
            with _Attempt(self, connected=cursor is not None):
                try:
                    async with asyncio.timeout(self._timeout_ms / 1000):
                        if cursor is None:
                            cursor = await self._connect_without_blocking()
                        await cursor.execute(statement, parameters, prepare=True)
                        row = await cursor.fetchone()
                except BaseException:
                    # Failed, or cancelled mid-read: the connection's state is unknown, so it is not
                    # used again.
                    if cursor is not None:
                        await _discard(cursor)
                    raise
            self._idle.append(cursor)
            return None if row is None else tuple(row)

    async def _connect_without_blocking(self) -> psycopg.AsyncCursor[Any]:
        _args, parameters = self._engine.dialect.create_connect_args(self._engine.url)
        connection = await psycopg.AsyncConnection.connect(
            **parameters, autocommit=True, connect_timeout=max(1, self._timeout_ms // 1000)
        )
        await connection.execute(f"SET statement_timeout = {self._timeout_ms}")
        return connection.cursor()

    def _blocking_row(self, statement: str, parameters: tuple[Any, ...]) -> tuple[Any, ...] | None:
        with self._lock, _Attempt(self, connected=self._connection is not None):
            try:
                connection = self._connection or self._connect()
                cursor = connection.cursor()
                try:
                    cursor.execute(statement, parameters)
                    row = cursor.fetchone()
                finally:
                    cursor.close()
            except Exception:
                self._drop()
                raise
            return None if row is None else tuple(row)

    def _connect(self) -> PoolProxiedConnection:
        self._connection = self._engine.raw_connection()
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.invalidate()  # never handed back to the pool half-used
            self._connection = None

    def close(self) -> None:
        with self._lock:
            self._drop()


class _Attempt:
    """One read, on either path, whose failure is answered 503. While a read that stalled is recent
    and no connection is at hand, 503 at once without trying (rather than stall every request on a
    connection attempt of its own); a failure that held the caller past `_STALL_SECONDS` makes the
    next `retry_seconds` answer so. A class, not a generator: it wraps every read."""

    __slots__ = ("reader", "started")

    def __init__(self, reader: RowReader, *, connected: bool) -> None:
        self.reader = reader
        self.started = 0.0
        if not connected and time.monotonic() < reader._retry_at:
            raise DatabaseUnavailable(UNAVAILABLE)

    def __enter__(self) -> None:
        self.started = time.monotonic()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _trace: TracebackType | None
    ) -> None:
        if not isinstance(error, Exception):
            return  # success, or a cancellation that goes on as it came
        if time.monotonic() - self.started > _STALL_SECONDS:
            self.reader._retry_at = time.monotonic() + self.reader._retry_seconds
        logger.warning("row read failed: %s", error.__class__.__name__)
        raise DatabaseUnavailable(UNAVAILABLE) from error


async def _discard(cursor: psycopg.AsyncCursor[Any]) -> None:
    # Already broken, or cancelled mid-read: closing its connection is all that is left to do.
    with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
        await cursor.connection.close()


def _as(model: type[Model], instance: SQLModel) -> Model:
    assert isinstance(instance, model)
    return instance
