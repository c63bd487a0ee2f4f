"""Single indexed rows read on the event loop: what lets a hot read go without a thread hop.

Two kinds of rows are read here on every request that needs them: the credential behind a bearer
token (its user, or its API key), and the version rows that cached answers are keyed on. Every
write a cached answer shows bumps its version in the write's own transaction
(api/services/catalogue.py, api/services/list_versions.py), and every read asks the database
again: a change committed through any process is seen by the next read through every other
(docs/caching.md).

Each process reads on one connection of its own, in autocommit, directly from the event loop: one
indexed row is a few microseconds on SQLite and one loopback round trip on PostgreSQL, less than
the thread-pool hop it saves. A statement runs within the database timeout, or the connection is
dropped and the request answered 503; for a second after a failure that kept the loop waiting,
requests get 503 at once instead of each trying to connect from the event loop.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, Table, event
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.pool import PoolProxiedConnection
from sqlmodel import SQLModel

from api.errors import DatabaseUnavailable
from models.credential import ApiKey
from models.user import User

logger = logging.getLogger("ateliers.rows")

UNAVAILABLE = "The database cannot be reached right now; try again shortly."
# A failed read that held the event loop longer than this makes the next second answer 503 at once;
# one that failed fast (refused, missing) is retried by the next request.
_STALL_SECONDS = 0.1
Model = TypeVar("Model", bound=SQLModel)


class _RowShape:
    """How one table's row is selected by one column and turned into a detached model instance."""

    def __init__(self, engine: Engine, model: type[SQLModel], key: str, marker: str) -> None:
        table: Table = model.__table__  # type: ignore[attr-defined]
        configure_mappers()
        self.manager = manager_of_class(model)
        self.names = [column.name for column in table.columns]
        # The columns' own conversions (dates stored as text on SQLite, for one).
        self.processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(engine.dialect).result_processor(engine.dialect, None)
            for column in table.columns
        ]
        columns = ", ".join(f'"{name}"' for name in self.names)
        self.statement = f'SELECT {columns} FROM "{table.name}" WHERE "{key}" = {marker}'  # noqa: S608

    def build(self, row: tuple[Any, ...]) -> SQLModel:
        instance = self.manager.new_instance()
        # Filled as the ORM fills a loaded row: already valid, so not validated again (5x faster).
        instance.__dict__.update(
            (name, processor(value) if processor is not None else value)
            for name, processor, value in zip(self.names, self.processors, row, strict=True)
        )
        # Known to exist in the database: a session it meets later never inserts it again.
        make_transient_to_detached(instance)
        return instance


class RowReader:
    """Reads single rows for one process, on one connection kept for it."""

    def __init__(self, engine: Engine, *, timeout_seconds: float, retry_seconds: float = 1.0) -> None:
        self._engine = engine
        self._timeout_ms = int(timeout_seconds * 1000)
        self._connection: PoolProxiedConnection | None = None
        self._retry_seconds = retry_seconds
        self._retry_at = 0.0
        # The event loop is the only caller in production; tests call from several threads in turn.
        self._lock = threading.Lock()
        # The driver's own placeholder: sqlite3 takes `?`, psycopg `%s`.
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._user = _RowShape(engine, User, "id", marker)
        self._api_key = _RowShape(engine, ApiKey, "key_hash", marker)
        self._catalogue = "SELECT version FROM catalogue_version WHERE id = 1"
        self._session_applications = (
            f"SELECT applications_version FROM training_session WHERE id = {marker}"  # noqa: S608
        )
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def catalogue_version(self) -> int:
        """The catalogue version as committed now: 0 before the first change."""
        row = self._row(self._catalogue, ())
        return int(row[0]) if row else 0

    def session_applications_version(self, session_id: int) -> int | None:
        """The version of a session's application lists; None for no such session."""
        row = self._row(self._session_applications, (session_id,))
        return int(row[0]) if row else None

    def user(self, user_id: int) -> User | None:
        row = self._row(self._user.statement, (user_id,))
        return None if row is None else _as(User, self._user.build(row))

    def api_key(self, key_hash: str) -> ApiKey | None:
        row = self._row(self._api_key.statement, (key_hash,))
        return None if row is None else _as(ApiKey, self._api_key.build(row))

    def _row(self, statement: str, parameters: tuple[Any, ...]) -> tuple[Any, ...] | None:
        with self._lock:
            if self._connection is None and time.monotonic() < self._retry_at:
                # A database that just kept the event loop waiting: 503 at once, rather than stall
                # every request on a connection attempt of its own.
                raise DatabaseUnavailable(UNAVAILABLE)
            started = time.monotonic()
            try:
                connection = self._connection or self._connect()
                cursor = connection.cursor()
                try:
                    cursor.execute(statement, parameters)
                    row = cursor.fetchone()
                finally:
                    cursor.close()
            except Exception as error:
                self._drop()
                if time.monotonic() - started > _STALL_SECONDS:
                    self._retry_at = time.monotonic() + self._retry_seconds
                logger.warning("row read failed: %s", error.__class__.__name__)
                raise DatabaseUnavailable(UNAVAILABLE) from error
            return None if row is None else tuple(row)

    def _connect(self) -> PoolProxiedConnection:
        connection = self._engine.raw_connection()
        dbapi: Any = connection.dbapi_connection
        if self._engine.dialect.name == "postgresql":
            # Each read sees what is committed; no transaction is left open between requests.
            dbapi.autocommit = True
            cursor = dbapi.cursor()
            cursor.execute(f"SET statement_timeout = {self._timeout_ms}")
            cursor.close()
        self._connection = connection
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.invalidate()  # never handed back to the pool half-used
            self._connection = None

    def close(self) -> None:
        with self._lock:
            self._drop()


def _as(model: type[Model], instance: SQLModel) -> Model:
    assert isinstance(instance, model)
    return instance
