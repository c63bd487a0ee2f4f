"""The database engine, tuned per dialect, and the sessions opened on it."""

import hashlib
import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

from api.config import Settings

WRITE_INTENT = "ateliers_write"
_WRITER = "ateliers_writer"
_WRITING_ENGINE = "_ateliers_writing_engine"


def build_engine(settings: Settings, **overrides: Any) -> Engine:
    """An engine for the configured database, tuned for its dialect."""
    url = settings.database_url
    if url.startswith("sqlite"):
        options: dict[str, Any] = {
            # As many connections as the server's worker threads: a smaller pool churns connections.
            "pool_size": settings.worker_threads,
            "max_overflow": 0,
            "pool_timeout": settings.database_timeout_seconds,
            "connect_args": {"check_same_thread": False, "timeout": settings.database_timeout_seconds},
        }
        options.update(overrides)
        engine = create_engine(url, **options)
        _make_sqlite_transactional(engine, timeout=settings.database_timeout_seconds)
        return engine
    options = postgresql_options(settings, pool_size=settings.database_pool_size)
    options.update(overrides)
    return create_engine(url, **options)


def postgresql_options(settings: Settings, *, pool_size: int) -> dict[str, Any]:
    timeout = settings.database_timeout_seconds
    return {
        # A connection that PostgreSQL dropped (a restart) is replaced before a request meets it.
        "pool_pre_ping": True,
        # Kept open, never churned: with 10 and 30 of overflow, every burst past 10 requests opened
        # and closed PostgreSQL connections (a fork and an authentication each) at full load.
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_timeout": timeout,
        "connect_args": {"connect_timeout": timeout},
    }


def _make_sqlite_transactional(engine: Engine, *, timeout: float) -> None:
    # pysqlite's own BEGIN handling is replaced so that writes can take the lock up front.
    # The writers of this process also queue on a lock of their own: SQLite's busy handler polls
    # with growing sleeps and no order, so under a burst of short write transactions some waited
    # past the timeout (503) while the database was free most of the time.
    writer = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes the write lock first, so check-then-write rules hold.
        if not connection.get_execution_options().get(WRITE_INTENT):
            connection.exec_driver_sql("BEGIN")
            return
        if not writer.acquire(timeout=timeout):
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
        connection.info[_WRITER] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(connection.info)
            raise

    def _release(info: dict[str, Any]) -> None:
        if info.pop(_WRITER, False):
            writer.release()

    # Released once the COMMIT or ROLLBACK is done and the connection goes back to the pool, as a
    # Session hands it back after each transaction (one write transaction per checkout).
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        _release(record.info)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(_dbapi_connection: Any, record: Any, _exception: Any) -> None:
        _release(record.info)


def open_session(engine: Engine, *, write: bool) -> Session:
    """A database session whose transactions are write transactions when `write` is set.

    A transaction begins at the first query, not here: work done before it (hashing a password)
    holds no lock. On SQLite a write transaction then takes the write lock up front.
    """
    bind = _writing_engine(engine) if write else engine
    return Session(bind, expire_on_commit=False, info={WRITE_INTENT: write})


def _writing_engine(engine: Engine) -> Engine:
    """`engine` with the write intent set, made once: making one took 14 % of the event loop's
    time under a burst of submissions."""
    writing: Engine | None = getattr(engine, _WRITING_ENGINE, None)
    if writing is None:
        writing = engine.execution_options(**{WRITE_INTENT: True})
        setattr(engine, _WRITING_ENGINE, writing)
    return writing


def lock_names(db: Session, *names: str) -> None:
    """Serialise this transaction with every other that locks one of `names`, until it ends.

    PostgreSQL takes transaction-scoped advisory locks, in a fixed order so that two callers
    never deadlock; SQLite needs nothing, since a write transaction already holds the database.
    """
    if db.get_bind().dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
