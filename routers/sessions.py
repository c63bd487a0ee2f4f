"""The session catalogue: public reads (listing, detail, iCalendar) and the secretariat's writes."""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from sqlmodel import Session

from api.clock import paris_today
from api.deps import (
    ClockDep,
    DbSession,
    EditableSession,
    OptionalActor,
    Secretariat,
    SessionRef,
    SettingsDep,
)
from api.edge.body_limits import BoundedBodyRoute
from api.edge.http_cache import cache_headers, catalogue_answer, strong_etag
from api.edge.problem import problem_responses
from api.errors import ValidationFailed
from api.services import sessions as session_service
from api.services.calendar_feed import build_calendar
from models.training_session import (
    PUBLIC_STATUSES,
    TrainerAssignment,
    TrainingSession,
    TrainingSessionCreate,
    TrainingSessionPage,
    TrainingSessionPublic,
    TrainingSessionQuery,
    TrainingSessionUpdate,
)

public_router = APIRouter(tags=["sessions"], route_class=BoundedBodyRoute)
router = APIRouter(tags=["sessions"], route_class=BoundedBodyRoute)

JSON = "application/json"
ICALENDAR = "text/calendar; charset=utf-8"
_CONDITIONAL: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the ETag in If-None-Match is current"}
}


def _filters(query: TrainingSessionQuery) -> session_service.SessionFilters:
    if query.from_ and query.to and query.from_ > query.to:
        raise ValidationFailed("'from' must be on or before 'to'.", loc=["query", "from"])
    return session_service.SessionFilters(
        status=query.status,
        ends_from=query.from_,
        starts_by=query.to,
        city=query.city,
        q=query.q,
        open_only=bool(query.open),
    )


@public_router.get(
    "/sessions",
    response_model=TrainingSessionPage,
    summary="List training sessions",
    description="Public: published, closed and completed sessions; the secretariat also sees drafts "
    "and cancelled ones. Ordered by start date, then id.",
    responses={**_CONDITIONAL, **problem_responses(401, 422)},
)
async def list_sessions(
    request: Request,
    query: Annotated[TrainingSessionQuery, Query()],
    actor: OptionalActor,
    clock: ClockDep,
) -> Response:
    filters = _filters(query)
    private = actor is not None and actor.is_secretariat
    today = paris_today(clock.now())

    def render(db: Session) -> bytes:
        sessions, total = session_service.list_sessions(
            db, filters, include_private=private, today=today, limit=query.limit, offset=query.offset
        )
        items = [session_service.to_public(s, today=today) for s in sessions]
        page = TrainingSessionPage(items=items, total=total, limit=query.limit, offset=query.offset)
        return page.model_dump_json().encode()

    return await catalogue_answer(request, private=private, today=today, media_type=JSON, render=render)


@public_router.get(
    "/sessions.ics",
    summary="The session listing as an iCalendar feed",
    description="The listing's filters; without `limit`, every matching session, so that a calendar "
    "subscription never loses the upcoming ones.",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/calendar": {
                    "schema": {"type": "string"},
                    "example": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n...\r\nBEGIN:VEVENT\r\n"
                    "SUMMARY:Les ateliers des cultures numériques #2\r\n"
                    "DTSTART;TZID=Europe/Paris:20270308T093000\r\n...\r\nEND:VCALENDAR\r\n",
                }
            },
            "description": "iCalendar feed",
        },
        **_CONDITIONAL,
        **problem_responses(401, 422),
    },
)
async def get_sessions_calendar(
    request: Request,
    query: Annotated[TrainingSessionQuery, Query()],
    actor: OptionalActor,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    filters = _filters(query)
    private = actor is not None and actor.is_secretariat
    today = paris_today(clock.now())
    # A subscription asks for no page: a default page would hide everything after the 20th session.
    limit = query.limit if "limit" in query.model_fields_set else None

    def render(db: Session) -> bytes:
        sessions, _ = session_service.list_sessions(
            db, filters, include_private=private, today=today, limit=limit, offset=query.offset
        )
        return build_calendar(sessions, org_name=settings.org_name, domain=settings.public_domain)

    return await catalogue_answer(request, private=private, today=today, media_type=ICALENDAR, render=render)


def _session_answer(
    request: Request,
    session: TrainingSession,
    *,
    today: date,
    status_code: int = 200,
) -> Response:
    public = session_service.to_public(session, today=today)
    body = public.model_dump_json().encode()
    etag = strong_etag(body)
    headers = cache_headers(etag, public=session.status in PUBLIC_STATUSES)
    if status_code == status.HTTP_201_CREATED:
        headers["Location"] = f"/api/v1/sessions/{session.id}"
    return Response(content=body, status_code=status_code, media_type=JSON, headers=headers)


@public_router.get(
    "/sessions/{id_or_slug}",
    response_model=TrainingSessionPublic,
    summary="Read a training session by id or slug",
    responses={**_CONDITIONAL, **problem_responses(401, 404, 422)},
)
async def get_session(
    request: Request, session_ref: SessionRef, actor: OptionalActor, clock: ClockDep
) -> Response:
    private = actor is not None and actor.is_secretariat
    today = paris_today(clock.now())

    def render(db: Session) -> bytes:
        session = session_service.find_session(db, session_ref, include_private=private)
        return session_service.to_public(session, today=today).model_dump_json().encode()

    return await catalogue_answer(request, private=private, today=today, media_type=JSON, render=render)


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=TrainingSessionPublic,
    summary="Create a training session (as a draft)",
    responses=problem_responses(401, 403, 409, 422),
)
def create_session(
    request: Request, data: TrainingSessionCreate, actor: Secretariat, db: DbSession, clock: ClockDep
) -> Response:
    now = clock.now()
    session = session_service.create_session(db, data, now=now)
    return _session_answer(request, session, today=paris_today(now), status_code=status.HTTP_201_CREATED)


@router.patch(
    "/sessions/{id_or_slug}",
    response_model=TrainingSessionPublic,
    summary="Change a training session",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
def update_session(
    request: Request, data: TrainingSessionUpdate, session: EditableSession, db: DbSession, clock: ClockDep
) -> Response:
    now = clock.now()
    session = session_service.update_session(db, session, data, now=now)
    return _session_answer(request, session, today=paris_today(now))


@router.delete(
    "/sessions/{id_or_slug}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a draft session",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
def delete_session(session: EditableSession, db: DbSession) -> Response:
    session_service.delete_session(db, session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _transition_route(
    action: Literal["publish", "close", "reopen", "complete", "cancel"], summary: str
) -> None:
    def change_status(request: Request, session: EditableSession, db: DbSession, clock: ClockDep) -> Response:
        now = clock.now()
        session = session_service.change_status(db, session, action, now=now)
        return _session_answer(request, session, today=paris_today(now))

    change_status.__name__ = f"{action}_session"
    router.add_api_route(
        f"/sessions/{{id_or_slug}}/{action}",
        change_status,
        methods=["POST"],
        response_model=TrainingSessionPublic,
        summary=summary,
        name=f"{action}_session",
        responses=problem_responses(401, 403, 404, 409, 412, 422),
    )


_transition_route("publish", "Publish a draft session")
_transition_route("close", "Close a published session to applications")
_transition_route("reopen", "Reopen a closed session")
_transition_route("complete", "Mark a closed session as completed")
_transition_route("cancel", "Cancel a published or closed session")


@router.put(
    "/sessions/{id_or_slug}/trainers",
    response_model=TrainingSessionPublic,
    summary="Set the trainers of a session",
    responses=problem_responses(401, 403, 404, 412, 422),
)
def assign_trainers(
    request: Request, data: TrainerAssignment, session: EditableSession, db: DbSession, clock: ClockDep
) -> Response:
    now = clock.now()
    session = session_service.assign_trainers(db, session, data.trainer_ids, now=now)
    return _session_answer(request, session, today=paris_today(now))
