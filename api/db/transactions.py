"""Transactions: the one runner that ends every transaction, and where each kind of write runs it.

`transaction` is the runner: every write (the request's session of an ordinary handler, a hot write,
the login's two steps, the command line, the worker) ends through it, committed when its work
succeeded, rolled back otherwise, with an unreachable database answered 503. The database alone
decides where a hot write runs (`WriteRunner`): SQLite on a few threads of the process, PostgreSQL
on the server's event loop.
"""

import asyncio
import functools
import inspect
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import anyio
from fastapi import Request
from fastapi.dependencies.models import Dependant
from sqlalchemy import Engine, orm
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from api.config import Settings
from api.db.engine import WRITE_INTENT, open_session, postgresql_options
from api.errors import DatabaseUnavailable, DomainError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# How PostgreSQL's pg_stat_activity names the connections of the hot writes (WriteRunner).
WRITE_CONNECTIONS_NAME = "ateliers-writes"
UNAVAILABLE = "The database cannot be reached right now; try again shortly."
Result = TypeVar("Result")
logger = logging.getLogger("ateliers.db")


@contextmanager
def transaction(db: Session) -> Iterator[Session]:
    """The one runner: `db`'s transaction begins at its first query, commits when the block ends,
    commits or rolls back on a domain error as the error says (`keeps_changes`), rolls back on any
    other; `db` is closed after. A database that cannot be reached, or whose lock cannot be had in
    time, is `DatabaseUnavailable` (503), whatever step met it."""
    try:
        try:
            yield db
        except DomainError as error:
            _end(db, commit=error.keeps_changes)
            raise
        except BaseException:
            _end(db, commit=False)
            raise
        _end(db, commit=True)
    except (OperationalError, PoolTimeout, sqlite3.OperationalError) as error:
        logger.warning("database unavailable: %s", error.__class__.__name__)
        raise DatabaseUnavailable(UNAVAILABLE) from error
    finally:
        db.close()


def _end(db: Session, *, commit: bool) -> None:
    if commit:
        db.commit()
    else:
        db.rollback()


def run_in_transaction(db: Session, work: Callable[[Session], Result]) -> Result:
    """`work(db)` through the runner."""
    with transaction(db):
        return work(db)


# Threads of their own for ending the requests' transactions, apart from AnyIO's worker threads:
# a transaction that holds a lock never waits for a thread that a waiter on that lock holds.
_ENDINGS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ateliers-commit")
_RUNNING = "ateliers_running"


async def get_db(request: Request) -> AsyncIterator[Session]:
    """The request's session, run by `transaction`: entered here, and left once, either by a `def`
    handler's thread as it returns (`end_in_handler_thread`) or here once the handler has returned
    or raised, before the answer leaves.

    The session opens its connection only when it first queries, so a request that never does
    costs no thread hop.
    """
    db = open_session(request.app.state.engine, write=request.method not in SAFE_METHODS)
    running = transaction(db)
    running.__enter__()
    db.info[_RUNNING] = running
    try:
        yield db
    except BaseException as error:
        await _leave(db, error)
        raise
    else:
        await _leave(db, None)


def end_request_transaction(db: Session, error: BaseException | None) -> None:
    """Leave the runner entered for the request's session `db` with the handler's outcome, once; it
    raises what ending the transaction met (503), never `error` itself (its caller does)."""
    running: AbstractContextManager[Session] | None = db.info.pop(_RUNNING, None)
    if running is not None:
        running.__exit__(type(error) if error else None, error, error.__traceback__ if error else None)


async def _leave(db: Session, error: BaseException | None) -> None:
    if _RUNNING not in db.info:
        return  # ended by its handler's thread
    if not db.in_transaction() and not (db.new or db.dirty or db.deleted):
        end_request_transaction(db, error)  # it never queried: no I/O to wait for
        return
    # Shielded: a client that hangs up cancels its request, and an await in a cancelled task raises
    # at once, which left the transaction open (on SQLite, holding the write lock) until collected.
    with anyio.CancelScope(shield=True):
        await asyncio.get_running_loop().run_in_executor(_ENDINGS, end_request_transaction, db, error)


def end_in_handler_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """A `def` handler whose request transaction ends in the handler's own thread as it returns.

    Left to `get_db`'s exit, the commit came after FastAPI had serialised the answer in another
    worker thread: a transaction holding a row lock then waited for a thread while every worker
    thread waited for that lock (fifty decisions on one session hung). Its signature is the
    handler's own (`functools.wraps`): what FastAPI reads is what the handler declares.
    """
    if inspect.iscoroutinefunction(endpoint):
        return endpoint

    @functools.wraps(endpoint)
    def ending(*args: Any, **kwargs: Any) -> Any:
        answer = endpoint(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session):
                end_request_transaction(value, None)
        return answer

    return ending


async def get_writes(request: Request) -> "WriteRunner":
    """The app's `WriteRunner`, for a handler that runs its writes itself."""
    writes: WriteRunner = request.app.state.writes
    return writes


def refuse_request_session_beside_writes(dependant: Dependant, *, path: str) -> None:
    """A handler that runs its own writes cannot also take the request's session, at any depth of
    its dependencies: on SQLite both would want the process's write lock, and the second would wait
    for the first until the timeout (a 503 after 3 s)."""
    calls = set(_calls(dependant))
    if get_writes in calls and get_db in calls:
        raise TypeError(f"{path}: a handler that runs its own writes cannot also take the request's session")


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


class WriteRunner:
    """Runs a handler's writes in transactions of their own, `settings.write_threads` at a time,
    first come first served: the hot writes (submission, quote issue), and the login's two steps
    around its password check. A handler says so: `await writes.run(lambda db: service(db, ...))`.

    The database decides where: SQLite, whose driver has no asynchronous form, on write threads;
    PostgreSQL on the server's event loop (the one the app's lifespan runs on), on asynchronous
    connections of its own: the service's code runs on the loop and SQLAlchemy's greenlet bridge
    awaits each statement. In threads, every statement gave the GIL back and waited for it again
    behind the event loop while the transaction held its locks; under load that wait, not
    PostgreSQL, was most of a write.
    """

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._on_loop = engine.dialect.name == "postgresql"
        # SQLite's hot writes, on a plain executor rather than AnyIO's worker threads: AnyIO's
        # limiter, cancel scope and worker queue were half of what handing a write over cost.
        self.threads = ThreadPoolExecutor(settings.write_threads, thread_name_prefix="ateliers-write")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async_engine: AsyncEngine | None = None
        # First come first served: the pool's own queue lets a newcomer take a connection handed
        # to a waiter, which sent the waiter to the back (a p99 twice the median).
        self._slots: asyncio.Semaphore | None = None
        # Transactions that outlive a cancelled request, kept referenced until they end.
        self._running: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Open the asynchronous connections on the running loop (PostgreSQL); from the lifespan."""
        if self._on_loop and self._async_engine is None:
            options = postgresql_options(self._settings, pool_size=self._settings.write_threads)
            options["connect_args"]["application_name"] = WRITE_CONNECTIONS_NAME
            self._async_engine = create_async_engine(self._engine.url, **options)
            self._slots = asyncio.Semaphore(self._settings.write_threads)
            self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        """Close the asynchronous connections once the transactions under way have ended."""
        engine, self._async_engine, self._slots, self._loop = self._async_engine, None, None, None
        if self._running:
            await asyncio.wait(set(self._running))
        if engine is not None:
            await engine.dispose()

    async def run(self, work: Callable[[Session], Result]) -> Result:
        """`work` in a write transaction of its own, through `transaction`; a request cancelled
        while queued never opens it, and once begun it ends whatever becomes of the request."""
        loop = asyncio.get_running_loop()
        if not self._on_loop:
            return await loop.run_in_executor(self.threads, _in_thread, self._engine, work)
        if self._loop is not loop or self._async_engine is None or self._slots is None:
            raise RuntimeError("On PostgreSQL, writes run on the loop the app's lifespan started on")
        slots = self._slots
        await slots.acquire()
        running = loop.create_task(_on_loop(self._async_engine, slots, work))
        self._running.add(running)
        running.add_done_callback(_forget(self._running))
        return await asyncio.shield(running)


def _in_thread(engine: Engine, work: Callable[[Session], Result]) -> Result:
    return run_in_transaction(open_session(engine, write=True), work)


async def _on_loop(
    engine: AsyncEngine, slots: asyncio.Semaphore, work: Callable[[Session], Result]
) -> Result:
    try:
        db = AsyncSession(engine, expire_on_commit=False, info={WRITE_INTENT: True})
        try:
            return await db.run_sync(_driven, work)
        finally:
            await db.close()
    finally:
        slots.release()


def _driven(db: orm.Session, work: Callable[[Session], Result]) -> Result:
    assert isinstance(db, Session)  # sqlmodel's AsyncSession drives a sqlmodel Session
    return run_in_transaction(db, work)


def _forget(running: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    def forget(transaction: asyncio.Task[Any]) -> None:
        running.discard(transaction)
        if not transaction.cancelled():
            transaction.exception()  # retrieved: a request that went away has no one to raise it to

    return forget
