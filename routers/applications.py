"""Applications: submitting one to a session, reading them, and the decisions on them."""

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response, status
from sqlmodel import Session

from api.deps import (
    ApplicationOfOwner,
    ClockDep,
    CurrentUser,
    DbSession,
    DecidableApplication,
    HotWrites,
    OwnedApplication,
    ReadableApplication,
    SessionRef,
    WithdrawableApplication,
)
from api.edge.body_limits import BoundedBodyRoute
from api.edge.http_cache import rendered_answer
from api.edge.json_answers import JSON, json_answer
from api.edge.problem import problem_responses
from api.services import applications as application_service
from api.services.auth import Actor
from models.application import (
    ApplicationEventPublic,
    ApplicationPage,
    ApplicationPublic,
    ApplicationQuery,
    ApplicationSubmission,
    ApplicationTrainerView,
    ApplicationUpdate,
    DecisionIn,
    DiscountDecisionIn,
)
from models.user import Role

router = APIRouter(tags=["applications"], route_class=BoundedBodyRoute)


@router.post(
    "/sessions/{id_or_slug}/applications",
    status_code=status.HTTP_201_CREATED,
    response_model=ApplicationPublic,
    summary="Apply to a training session (online, or a paper file recorded by the secretariat)",
    description="An applicant applies online while the session is published, until its deadline "
    "day (Europe/Paris) included; a session it cannot see (a draft, a cancelled one) is not found, "
    "exactly as one that does not exist. "
    'The secretariat records a paper file with `channel: "paper"`, '
    "`applicant_id` and `postmarked_on`: it is on time when the postmark is on or before the "
    "deadline, whatever today is, and it is accepted while the session is published or closed, "
    "since a file posted on time may arrive after applications closed. A postmark later than "
    "today is a validation error. One live application per applicant and session: a withdrawn "
    "one does not count, a rejected one does. A `discount_code` must name an active discount "
    "of this session or of all sessions; it is then `claimed`.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def submit_application(
    request: Request,
    session_ref: SessionRef,
    data: Annotated[ApplicationSubmission, Body()],
    actor: CurrentUser,
    writes: HotWrites,
) -> Response:
    # The clock from the app's state, as authentication takes it: one dependency fewer to resolve.
    now = request.app.state.clock.now()
    application = await writes.run(
        lambda db: application_service.submit_application(db, actor, session_ref, data, now=now)
    )
    return json_answer(
        application_service.to_public(application),
        status_code=status.HTTP_201_CREATED,
        location=f"/api/v1/applications/{application.id}",
    )


@router.get(
    "/applications",
    response_model=ApplicationPage,
    summary="List applications",
    description="An applicant sees its own; a trainer the accepted applications of the sessions it "
    "teaches, without billing; the secretariat all. Ordered by id.",
    responses=problem_responses(401, 422),
)
async def list_applications(
    request: Request, query: Annotated[ApplicationQuery, Query()], actor: CurrentUser
) -> Response:
    filters = application_service.ApplicationFilters(session_id=query.session_id, status=query.status)

    def render(db: Session) -> bytes:
        applications, total = application_service.list_applications(
            db, actor, filters, limit=query.limit, offset=query.offset
        )
        page = ApplicationPage(
            items=[application_service.view_for(actor, a) for a in applications],
            total=total,
            limit=query.limit,
            offset=query.offset,
        )
        return page.model_dump_json().encode()

    scope = await _list_scope(request, actor, filters)
    return await rendered_answer(request, scope=scope, render=render, media_type=JSON)


async def _list_scope(
    request: Request, actor: Actor, filters: application_service.ApplicationFilters
) -> str | None:
    """Who reads the list and the version of what it shows, for the lists kept rendered: an
    applicant's own (its account's version, read with the credential just now) and the
    secretariat's list of one session (that session's version, read now)."""
    if actor.role == Role.applicant:
        return f"applicant:{actor.id}:{actor.user.applications_version}"
    if actor.is_secretariat and filters.session_id is not None:
        version = await request.app.state.rows.session_applications_version(filters.session_id)
        return None if version is None else f"secretariat:{filters.session_id}:{version}"
    return None


@router.get(
    "/applications/{application_id}",
    response_model=ApplicationPublic | ApplicationTrainerView,
    summary="Read an application",
    description="Its applicant and the secretariat read it whole; a trainer of the session reads an "
    "accepted one without billing.",
    responses=problem_responses(401, 404, 422),
)
def get_application(
    application: ReadableApplication, actor: CurrentUser
) -> ApplicationPublic | ApplicationTrainerView:
    return application_service.view_for(actor, application)


@router.patch(
    "/applications/{application_id}",
    response_model=ApplicationPublic,
    summary="Change one's application while it is submitted",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def update_application(
    data: ApplicationUpdate,
    application: ApplicationOfOwner,
    actor: CurrentUser,
    db: DbSession,
    clock: ClockDep,
) -> ApplicationPublic:
    application = application_service.update_application(db, actor, application, data, now=clock.now())
    return application_service.to_public(application)


@router.post(
    "/applications/{application_id}/decision",
    response_model=ApplicationPublic,
    summary="Accept, reject or waitlist an application",
    description="From `submitted`: accepted, rejected or waitlisted; from `waitlisted`: accepted or "
    "rejected. Accepting past the session's capacity is `session_full`, however many decisions "
    "race. Waitlisting appends to the waiting list; leaving it moves those behind up. Once the "
    "session has started (its first day, Europe/Paris, or completed), accepting a waitlisted "
    "application is `invalid_transition`. A cancelled session takes no decision (`session_not_open`).",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def decide_application(
    data: DecisionIn, application: DecidableApplication, actor: CurrentUser, db: DbSession, clock: ClockDep
) -> ApplicationPublic:
    application = application_service.decide_application(
        db, actor, application, data.decision, data.note, now=clock.now()
    )
    return application_service.to_public(application)


@router.post(
    "/applications/{application_id}/withdraw",
    response_model=ApplicationPublic,
    summary="Withdraw an application",
    description="By its applicant or the secretariat, while submitted, accepted or waitlisted, until "
    "the session starts: from its first day (Europe/Paris), or once completed, it is "
    "`invalid_transition`, and in a cancelled session `session_not_open`. The seat of an accepted "
    "application goes at once to the first of the waiting list.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def withdraw_application(
    application: WithdrawableApplication, actor: CurrentUser, db: DbSession, clock: ClockDep
) -> ApplicationPublic:
    application = application_service.withdraw_application(db, actor, application, now=clock.now())
    return application_service.to_public(application)


@router.post(
    "/applications/{application_id}/discount",
    response_model=ApplicationPublic,
    summary="Approve or refuse the discount an application claims",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def decide_discount(
    data: DiscountDecisionIn,
    application: DecidableApplication,
    actor: CurrentUser,
    db: DbSession,
    clock: ClockDep,
) -> ApplicationPublic:
    application = application_service.decide_discount(
        db, actor, application, approved=data.approved, note=data.note, now=clock.now()
    )
    return application_service.to_public(application)


@router.get(
    "/applications/{application_id}/events",
    response_model=list[ApplicationEventPublic],
    summary="The history of an application",
    description="Every change of its status or discount, oldest first, for its applicant and the "
    "secretariat.",
    responses=problem_responses(401, 404, 422),
)
def list_application_events(application: OwnedApplication, db: DbSession) -> list[ApplicationEventPublic]:
    return application_service.list_events(db, application)
