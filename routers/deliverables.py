"""Deliverables of a session and their evaluations by its trainers."""

from fastapi import APIRouter, Response, status

from api.deps import (
    ClockDep,
    CurrentUser,
    DbSession,
    ResourceId,
    TaughtSession,
    VisibleDeliverable,
    VisibleEvaluation,
)
from api.edge.body_limits import BoundedBodyRoute
from api.edge.problem import problem_responses
from api.services import deliverables as deliverable_service
from models.deliverable import (
    DeliverableCreate,
    DeliverableList,
    DeliverablePublic,
    EvaluationCreate,
    EvaluationList,
    EvaluationPublic,
    EvaluationUpdate,
)

router = APIRouter(tags=["deliverables"], route_class=BoundedBodyRoute)

WHO_SEES = (
    " The trainers of the session and the secretariat see every deliverable, its members their own; "
    "anyone else, trainers of other sessions included, gets 404."
)


@router.post(
    "/sessions/{session_id}/deliverables",
    status_code=status.HTTP_201_CREATED,
    response_model=DeliverablePublic,
    summary="Record a group production of a session",
    description="A trainer of the session or the secretariat; anyone else gets 404. Every member must be "
    "an accepted application of this session (otherwise 422).",
    responses=problem_responses(401, 404, 422),
)
def create_deliverable(
    data: DeliverableCreate,
    session: TaughtSession,
    actor: CurrentUser,
    response: Response,
    db: DbSession,
    clock: ClockDep,
) -> DeliverablePublic:
    deliverable = deliverable_service.create_deliverable(db, session, data, actor=actor, now=clock.now())
    response.headers["Location"] = f"/api/v1/deliverables/{deliverable.id}"
    return deliverable_service.to_public(db, deliverable)


@router.get(
    "/sessions/{session_id}/deliverables",
    response_model=DeliverableList,
    summary="List a session's deliverables",
    description="All of them for the trainers of the session and the secretariat; an accepted trainee "
    "sees those it belongs to; anyone else gets 404. Ordered by id.",
    responses=problem_responses(401, 404, 422),
)
def list_deliverables(session_id: ResourceId, actor: CurrentUser, db: DbSession) -> DeliverableList:
    items = deliverable_service.list_deliverables(db, session_id, actor=actor)
    return DeliverableList(items=deliverable_service.to_public_list(db, items))


@router.get(
    "/deliverables/{deliverable_id}",
    response_model=DeliverablePublic,
    summary="Read a deliverable",
    description="With its members." + WHO_SEES,
    responses=problem_responses(401, 404, 422),
)
def get_deliverable(deliverable: VisibleDeliverable, db: DbSession) -> DeliverablePublic:
    return deliverable_service.to_public(db, deliverable)


@router.post(
    "/deliverables/{deliverable_id}/evaluations",
    status_code=status.HTTP_201_CREATED,
    response_model=EvaluationPublic,
    summary="Evaluate a deliverable",
    description="A trainer of the session only: the secretariat and members get 403, anyone else 404. "
    "`score` is at most `max_score` (20 by default) and each criterion's score at most its own "
    "`max_score` (otherwise 422). One evaluation per trainer and deliverable: a second is 409 "
    "`already_evaluated`. Members read it once `published`.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def evaluate_deliverable(
    data: EvaluationCreate,
    deliverable: VisibleDeliverable,
    actor: CurrentUser,
    response: Response,
    db: DbSession,
    clock: ClockDep,
) -> EvaluationPublic:
    evaluation = deliverable_service.evaluate(db, deliverable, data, actor=actor, now=clock.now())
    response.headers["Location"] = f"/api/v1/evaluations/{evaluation.id}"
    return deliverable_service.evaluation_to_public(db, evaluation)


@router.get(
    "/deliverables/{deliverable_id}/evaluations",
    response_model=EvaluationList,
    summary="List a deliverable's evaluations",
    description="All of them for the trainers of the session and the secretariat; its members see the "
    "published ones; anyone else gets 404. Ordered by id.",
    responses=problem_responses(401, 404, 422),
)
def list_evaluations(deliverable: VisibleDeliverable, actor: CurrentUser, db: DbSession) -> EvaluationList:
    items = deliverable_service.list_evaluations(db, deliverable, actor=actor)
    return EvaluationList(items=[deliverable_service.evaluation_to_public(db, e) for e in items])


@router.patch(
    "/evaluations/{evaluation_id}",
    response_model=EvaluationPublic,
    summary="Change an evaluation",
    description="Its author only: the others who may read it get 403, anyone else 404. The scores are "
    "checked against the maxima as on creation.",
    responses=problem_responses(401, 403, 404, 422),
)
def update_evaluation(
    data: EvaluationUpdate, evaluation: VisibleEvaluation, actor: CurrentUser, db: DbSession, clock: ClockDep
) -> EvaluationPublic:
    changed = deliverable_service.update_evaluation(db, evaluation, data, actor=actor, now=clock.now())
    return deliverable_service.evaluation_to_public(db, changed)
