"""The database engine and the one-transaction-per-request session."""

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine

from api.config import Settings
from api.errors import DomainError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITE_INTENT = "ateliers_write"


def build_engine(settings: Settings, **overrides: Any) -> Engine:
    """An engine for the configured database, tuned for its dialect."""
    url = settings.database_url
    if url.startswith("sqlite"):
        options: dict[str, Any] = {
            # As many connections as AnyIO's 40 worker threads: a smaller pool churns connections.
            "pool_size": 40,
            "max_overflow": 0,
            "pool_timeout": settings.database_timeout_seconds,
            "connect_args": {"check_same_thread": False, "timeout": settings.database_timeout_seconds},
        }
        options.update(overrides)
        engine = create_engine(url, **options)
        _make_sqlite_transactional(engine)
        return engine
    timeout = settings.database_timeout_seconds
    options = {
        "pool_pre_ping": True,
        "pool_size": 10,
        "max_overflow": 30,
        "pool_timeout": timeout,
        "connect_args": {"connect_timeout": timeout},
    }
    options.update(overrides)
    return create_engine(url, **options)


def _make_sqlite_transactional(engine: Engine) -> None:
    # pysqlite's own BEGIN handling is replaced so that writes can take the lock up front.
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
        if connection.get_execution_options().get(_WRITE_INTENT):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def open_session(engine: Engine, *, write: bool) -> Session:
    """A database session whose transaction is a write transaction when `write` is set."""
    db = Session(engine, expire_on_commit=False)
    if write:
        db.connection(execution_options={_WRITE_INTENT: True})
    return db


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the answer leaves, rolled back on error."""
    db = open_session(request.app.state.engine, write=request.method not in SAFE_METHODS)
    try:
        yield db
    except DomainError as error:
        if error.keeps_changes:
            db.commit()
        else:
            db.rollback()
        raise
    except BaseException:
        db.rollback()
        raise
    else:
        db.commit()
    finally:
        db.close()
