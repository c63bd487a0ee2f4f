"""Renders every error as RFC 9457 problem+json, and declares them in the OpenAPI spec."""

import logging
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import DomainError

PROBLEM_MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger("ateliers.errors")

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_attempts",
    500: "internal_error",
    503: "database_unavailable",
}


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Where the problem is: body, query, path, then field")
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem detail, with the stable `code` clients branch on."""

    type: str = Field(examples=["urn:ateliers:problem:not_found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No training session with this id."])
    code: str = Field(examples=["not_found"])
    errors: list[ValidationIssue] | None = None


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    """The one place a problem+json answer is built."""
    body: dict[str, Any] = {
        "type": f"urn:ateliers:problem:{code}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


class EdgeRefusal(StarletteHTTPException):
    """A request the edge refuses (body too large, body too slow), raised from `receive`.

    As an HTTPException it passes through FastAPI's body parsing untouched and reaches the handlers;
    RequestContextMiddleware answers it when it is raised outside them.
    """

    status: ClassVar[int]
    code: ClassVar[str]
    title: ClassVar[str]

    def __init__(self, detail: str) -> None:
        # The rest of the body is never read, so the connection cannot carry another request.
        super().__init__(self.status, detail, headers={"Connection": "close"})


def edge_refusal_response(refusal: EdgeRefusal) -> JSONResponse:
    """The problem+json answer to a request refused at the edge."""
    return problem_response(
        refusal.status, refusal.code, refusal.detail, title=refusal.title, headers=dict(refusal.headers or {})
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring the problems a route may answer."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in sorted(set(statuses))
    }


def _loc(raw: Any) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in raw]


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(
        exc.status, exc.code, exc.detail, title=exc.title, headers=exc.headers, errors=exc.errors
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, EdgeRefusal):
        return edge_refusal_response(exc)
    if exc.status_code == 400:
        # Only body parsing raises a bare 400 here (FastAPI's decoder, Starlette's form limits).
        msg = exc.detail if isinstance(exc.detail, str) else "The body could not be decoded."
        if msg == "There was an error parsing the body":
            msg = "The body could not be decoded."
        return problem_response(
            422, "validation_error", msg, title="Invalid request", errors=[{"loc": ["body"], "msg": msg}]
        )
    code = _CODES_BY_STATUS.get(exc.status_code, f"http_{exc.status_code}")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = "No resource at this address."
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return problem_response(exc.status_code, code, detail, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": _loc(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()]
    first = errors[0] if errors else {"loc": [], "msg": "Invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    return problem_response(
        422,
        "validation_error",
        f"{where}: {first['msg']}" if where else str(first["msg"]),
        title="Invalid request",
        errors=errors,
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("database unavailable: %s", exc.__class__.__name__)
    return problem_response(
        503,
        "database_unavailable",
        "The database cannot be reached right now; try again shortly.",
        headers={"Retry-After": "5"},
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error the app can raise to problem+json."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(DBAPIError, _database_or_internal_error)


async def _database_or_internal_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated:
        return await _database_error(request, exc)
    # Anything else from the driver is our bug: keep it a problem, but a 500.
    logger.error("database error", exc_info=exc)
    return problem_response(500, "internal_error", "An unexpected error occurred.")
