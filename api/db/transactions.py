"""Transactions: the request's session and the hot writes."""

import asyncio
import functools
import inspect
import typing
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Request
from sqlalchemy import Engine, orm
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.concurrency import run_in_threadpool

from api.config import Settings
from api.db.engine import WRITE_INTENT, open_session, postgresql_options
from api.errors import DomainError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# How PostgreSQL's pg_stat_activity names the connections of the hot writes (HotWrites).
WRITE_CONNECTIONS_NAME = "ateliers-writes"
Result = TypeVar("Result")


class WriteThreads(ThreadPoolExecutor):
    """The few threads that run the hot writes, first come first served.

    A plain executor rather than AnyIO's worker threads: AnyIO's capacity limiter, cancel scope and
    worker queue were half of what handing a submission to its thread cost the event loop.
    """

    def __init__(self, total: int) -> None:
        super().__init__(max_workers=total, thread_name_prefix="ateliers-write")
        self.total = total


class HotWrites:
    """Where the hot writes (submission, quote issue) run their transactions, first come first served,
    `settings.write_threads` at a time; each commits, or rolls back, once its work is done.

    On PostgreSQL, the server's loop (the one `start` is awaited on, in the app's lifespan) runs them
    on asynchronous connections of their own: the service's code runs on the loop and SQLAlchemy's
    greenlet bridge awaits each statement. In write threads, every statement gave the GIL back and
    waited for it again behind the event loop while the transaction held its locks; under load that
    wait, not PostgreSQL, was most of a write. SQLite, whose driver has no asynchronous form, and
    any other loop (a test client's) keep the threads.
    """

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.threads = WriteThreads(settings.write_threads)
        self._engine = engine
        self._settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async_engine: AsyncEngine | None = None
        # First come first served: the pool's own queue lets a newcomer take a connection handed
        # to a waiter, which sent the waiter to the back (a p99 twice the median).
        self._slots: asyncio.Semaphore | None = None
        # Transactions that outlive a cancelled request, kept referenced until they end.
        self._running: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Run the hot writes on the running loop from now on (PostgreSQL): the server's loop. A loop
        is started once; others (a second test client of the same app) keep the threads."""
        if self._engine.dialect.name == "postgresql" and self._loop is None:
            options = postgresql_options(self._settings, pool_size=self._settings.write_threads)
            options["connect_args"]["application_name"] = WRITE_CONNECTIONS_NAME
            self._async_engine = create_async_engine(self._engine.url, **options)
            self._slots = asyncio.Semaphore(self._settings.write_threads)
            self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        """Close the asynchronous connections, from the loop `start` was awaited on, once the
        transactions under way have ended."""
        if self._loop is not asyncio.get_running_loop() or self._async_engine is None:
            return
        engine, self._loop, self._async_engine, self._slots = self._async_engine, None, None, None
        if self._running:
            await asyncio.wait(set(self._running))
        await engine.dispose()

    async def run(self, work: Callable[[Session], Result]) -> Result:
        """`work` in a write transaction of its own; a request cancelled while queued never opens
        it, and once begun it commits or rolls back whatever becomes of the request."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._async_engine is None or self._slots is None:
            return await loop.run_in_executor(self.threads, _in_thread_transaction, self._engine, work)
        slots = self._slots
        await slots.acquire()
        transaction = loop.create_task(_on_loop_transaction(self._async_engine, slots, work))
        self._running.add(transaction)
        transaction.add_done_callback(_forget(self._running))
        return await asyncio.shield(transaction)


def _forget(running: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    def forget(transaction: asyncio.Task[Any]) -> None:
        running.discard(transaction)
        if not transaction.cancelled():
            transaction.exception()  # retrieved: a request that went away has no one to raise it to

    return forget


async def _on_loop_transaction(
    engine: AsyncEngine, slots: asyncio.Semaphore, work: Callable[[Session], Result]
) -> Result:
    try:
        session = AsyncSession(engine, expire_on_commit=False, info={WRITE_INTENT: True})
        try:
            return await session.run_sync(_run_and_end_driven, work)
        finally:
            await session.close()
    finally:
        slots.release()


def _run_and_end_driven(db: orm.Session, work: Callable[[Session], Result]) -> Result:
    assert isinstance(db, Session)  # sqlmodel's AsyncSession drives a sqlmodel Session
    return _run_and_end(db, work)


def _in_thread_transaction(engine: Engine, work: Callable[[Session], Result]) -> Result:
    db = open_session(engine, write=True)
    try:
        return _run_and_end(db, work)
    finally:
        db.close()


def _run_and_end(db: Session, work: Callable[[Session], Result]) -> Result:
    try:
        answer = work(db)
    except DomainError as error:
        _commit_or_rollback(db, error.keeps_changes)
        raise
    except BaseException:
        _commit_or_rollback(db, False)
        raise
    _commit_or_rollback(db, True)
    return answer


class _HandlerTransaction:
    """Marks the parameter of a `def` handler that receives a write transaction of its own."""


# A write transaction of the handler's own, run by the app's `HotWrites` without `get_db`: for a
# hot write whose dependencies never touch the database, since resolving `get_db` (an async
# generator and its exit) was a tenth of a submission's event loop time.
HandlerTransaction = Annotated[Session, _HandlerTransaction()]


def commit_in_handler_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """A `def` handler whose write transaction commits where its work was done.

    Left to `get_db`, the commit waited for a hop back to the event loop and another to the
    thread pool, while the transaction held its locks (on SQLite, the database's write lock):
    under load, each write then held the lock for several milliseconds doing nothing.
    """
    if inspect.iscoroutinefunction(endpoint):
        return endpoint
    own = _with_own_transaction(endpoint)
    if own is not None:
        return own

    @functools.wraps(endpoint)
    def committing(*args: Any, **kwargs: Any) -> Any:
        answer = endpoint(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session) and value.info.get(WRITE_INTENT) and value.in_transaction():
                value.commit()
        return answer

    return committing


def _with_own_transaction(endpoint: Callable[..., Any]) -> Callable[..., Any] | None:
    """`endpoint` given a `HandlerTransaction` of its own, or None if it asks for none."""
    hints = typing.get_type_hints(endpoint, include_extras=True)
    names = [
        name
        for name, hint in hints.items()
        if any(isinstance(extra, _HandlerTransaction) for extra in getattr(hint, "__metadata__", ()))
    ]
    if not names:
        return None
    (db_name,) = names
    signature = inspect.signature(endpoint)
    parameters = [p for p in signature.parameters.values() if p.name != db_name]
    request_name = next((name for name, hint in hints.items() if hint is Request), None)
    if request_name is None:
        request_name = "transaction_request"
        parameters.append(inspect.Parameter(request_name, inspect.Parameter.KEYWORD_ONLY, annotation=Request))
    keeps_request = request_name in signature.parameters

    @functools.wraps(endpoint)
    async def in_own_transaction(*args: Any, **kwargs: Any) -> Any:
        request = kwargs[request_name] if keeps_request else kwargs.pop(request_name)
        writes: HotWrites = request.app.state.writes
        return await writes.run(lambda db: endpoint(*args, **kwargs, **{db_name: db}))

    in_own_transaction.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=sorted(parameters, key=lambda p: p.kind)
    )
    return in_own_transaction


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One transaction per request, committed before the answer leaves, rolled back on error.

    The database work runs in the thread pool; the session opens its connection only when it
    first queries, so a request costs no thread hop until then, and ending it costs one.
    """
    db = open_session(request.app.state.engine, write=request.method not in SAFE_METHODS)
    try:
        yield db
    except DomainError as error:
        await _end(db, commit=error.keeps_changes)
        raise
    except BaseException:
        await _end(db, commit=False)
        raise
    else:
        # Closing a read ends its transaction: there is nothing to commit.
        await _end(db, commit=request.method not in SAFE_METHODS)


async def _end(db: Session, *, commit: bool) -> None:
    pending = commit and bool(db.new or db.dirty or db.deleted)
    if not db.in_transaction() and not pending:
        db.close()  # it never queried: no connection to give back
        return
    # Shielded: a client that hangs up cancels its request, and an await in a cancelled task raises
    # at once, which left the transaction open (on SQLite, holding the write lock) until collected.
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_commit_or_rollback_and_close, db, commit)


def _commit_or_rollback_and_close(db: Session, commit: bool) -> None:
    try:
        _commit_or_rollback(db, commit)
    finally:
        db.close()


def _commit_or_rollback(db: Session, commit: bool) -> None:
    if commit:
        db.commit()
    else:
        db.rollback()
