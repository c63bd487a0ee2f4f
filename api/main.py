"""The application factory: `api.main:app` is what uvicorn serves."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.clock import Clock, SystemClock
from api.config import Settings, get_settings
from api.db.engine import build_engine
from api.db.row_reader import RowReader
from api.db.transactions import WriteRunner
from api.deps import require_actor
from api.documents.attendance_sheet import AttendanceSheetRenders
from api.edge.http_cache import CachedCatalogueReads, RenderedCache
from api.edge.middleware import (
    DOCS_ASSETS,
    BodyDeadlineMiddleware,
    BodySizeLimitMiddleware,
    HeadAsGetMiddleware,
    PublicReadCorsMiddleware,
    RequestContextMiddleware,
)
from api.edge.problem import PROBLEM_MEDIA_TYPE, install_problem_handlers
from api.observability import configure_logging
from api.security import Passwords
from routers import (
    application_documents,
    applications,
    attendance,
    auth,
    certificates,
    deliverables,
    discounts,
    feedback,
    health,
    quotes,
    sessions,
    users,
)

logger = logging.getLogger("ateliers.startup")

API_PREFIX = "/api/v1"
# The public reads answered from the rendered cache (api/edge/http_cache.py).
CATALOGUE_PATHS = (f"{API_PREFIX}/sessions", f"{API_PREFIX}/discounts")
VERSION = "1.0.0"

DESCRIPTION = """\
The HTTP API of a continuing-education body: the public catalogue of training sessions
that partner sites embed, accounts and roles, the secretariat's management of sessions,
and the applications to them.

Every error is `application/problem+json` (RFC 9457) with a stable `code`. Money is in
integer cents; dates are ISO 8601, and the organisation's dates are in Europe/Paris.
"""

TAGS = [
    {"name": "sessions", "description": "The catalogue of training sessions."},
    {"name": "applications", "description": "Applications to sessions, their decisions and history."},
    {"name": "discounts", "description": "Reductions on the price of a session, managed by the secretariat."},
    {"name": "quotes", "description": "What a place costs, in a numbered document the payer can sign."},
    {"name": "deliverables", "description": "Trainees' group productions and their evaluations."},
    {"name": "certificates", "description": "Training certificates, and their public verification."},
    {"name": "feedback", "description": "Trainees' feedback on a session, summarised without names."},
    {"name": "auth", "description": "Registration, tokens and API keys."},
    {"name": "users", "description": "Accounts and roles."},
    {"name": "operations", "description": "Health checks for load balancers."},
]


def _operation_id(route: APIRoute) -> str:
    # Handler names read well as generated client methods: listSessions, publishSession...
    return route.name


def _include_routers(app: FastAPI) -> None:
    """Every router straight under the app: FastAPI matches included routers level by level, so a
    flat list, the most requested first, costs a request the fewest matches."""
    public = [
        sessions.public_router,
        discounts.public_router,
        auth.public_router,
        certificates.public_router,
    ]
    # Everything below needs a caller: a route is authenticated unless it is listed above.
    authenticated = [
        applications.router,
        quotes.router,
        sessions.router,
        discounts.router,
        auth.router,
        users.router,
        application_documents.router,
        attendance.router,
        deliverables.router,
        certificates.router,
        feedback.router,
    ]
    for router in public:
        app.include_router(router, prefix=API_PREFIX)
    for router in authenticated:
        app.include_router(router, prefix=API_PREFIX, dependencies=[Depends(require_actor)])
    app.include_router(health.router)


def _problem_ref(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _problem_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with its validation errors rewritten as the problems we actually send."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            invalid = operation.get("responses", {}).get("422")
            if invalid and "application/json" in invalid.get("content", {}):
                operation["responses"]["422"] = _problem_ref("Validation error")
            responses = operation.setdefault("responses", {})
            # Every operation may meet these, whatever it declares itself.
            if "requestBody" in operation:
                responses.setdefault("408", _problem_ref("Request body not received in time"))
                responses.setdefault("413", _problem_ref("Request body too large"))
            responses.setdefault("503", _problem_ref("Database unavailable"))
            responses.setdefault("500", _problem_ref("Unexpected error"))
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                if PROBLEM_MEDIA_TYPE in content and "application/json" in content:
                    del content["application/json"]
    components = schema.get("components", {}).get("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    app.openapi_schema = schema
    return schema


_heap_frozen = False


def freeze_startup_heap() -> None:
    """Leave what startup built (modules, routes, schemas, mappers) out of every later collection.

    A full collection walked those 200,000 objects in 115 to 170 ms, stalling every request of the
    process; the bench saw one or two in each run, on the event loop or inside a write lock. Once
    per process: a test run builds many apps, and what is frozen is never freed."""
    global _heap_frozen
    if _heap_frozen:
        return
    _heap_frozen = True
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the service for the given settings (the environment's by default)."""
    settings = settings or get_settings()
    configure_logging(settings)
    if settings.secret_key_generated:
        logger.warning(
            "ATELIERS_SECRET_KEY is not set: access tokens are signed with a random key made by this "
            "process, and stop working when it restarts"
        )
    engine = build_engine(settings)
    rows = RowReader(engine, timeout_seconds=settings.database_timeout_seconds)
    writes = WriteRunner(engine, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        freeze_startup_heap()
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        await rows.start()
        await writes.start()
        yield
        await writes.stop()
        await rows.stop()
        engine.dispose()

    # /docs and /redoc load Swagger UI and ReDoc from the service itself, never from a CDN: they
    # render on a machine without internet, under a policy that allows no other origin.
    app = FastAPIOffline(
        title="Ateliers API",
        version=VERSION,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        generate_unique_id_function=_operation_id,
        lifespan=lifespan,
        static_url=DOCS_ASSETS,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = clock or SystemClock()
    app.state.passwords = Passwords.from_settings(settings)
    app.state.rendered_cache = RenderedCache(max_bytes=settings.rendered_cache_bytes)
    app.state.attendance_sheets = AttendanceSheetRenders(app.state.rendered_cache)
    app.state.rows = rows
    app.state.writes = writes

    install_problem_handlers(app)
    _include_routers(app)
    app.openapi = lambda: _problem_openapi(app)  # type: ignore[method-assign]

    # Outermost last: the request context wraps everything, so even a 413 gets its headers.
    app.add_middleware(CachedCatalogueReads, prefixes=CATALOGUE_PATHS)
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(PublicReadCorsMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        BodyDeadlineMiddleware,
        idle_seconds=settings.body_timeout_seconds,
        min_bytes_per_second=settings.body_min_bytes_per_second,
    )
    app.add_middleware(RequestContextMiddleware)
    if settings.trusted_proxy_list:
        # Outermost: every layer, the login counter and the log included, sees the real client.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    return app


def __getattr__(name: str) -> Any:
    # `api.main:app` is built on first access, so importing this module reads no environment.
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
