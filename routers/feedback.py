"""Trainees' feedback on a session, and its anonymous summary for the staff."""

from fastapi import APIRouter, Response, status

from api.deps import ClockDep, CurrentUser, DbSession, ResourceId, TaughtSession
from api.edge.body_limits import BoundedBodyRoute
from api.edge.problem import problem_responses
from api.services import feedback as feedback_service
from models.feedback import FeedbackCreate, FeedbackReceipt, FeedbackSummary

router = APIRouter(tags=["feedback"], route_class=BoundedBodyRoute)


@router.post(
    "/sessions/{session_id}/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackReceipt,
    summary="Give feedback on a session",
    description="An accepted trainee of the session, once (a second is 409 `feedback_already_given`), from "
    "its first day in Europe/Paris (before, 409 `not_eligible`). The session's trainers and the "
    "secretariat get 403; anyone else 404. The answer names no one: the staff read only a summary.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def give_feedback(
    session_id: ResourceId,
    data: FeedbackCreate,
    actor: CurrentUser,
    response: Response,
    db: DbSession,
    clock: ClockDep,
) -> FeedbackReceipt:
    feedback = feedback_service.give_feedback(db, session_id, data, actor=actor, now=clock.now())
    response.headers["Location"] = f"/api/v1/sessions/{session_id}/feedback/summary"
    return FeedbackReceipt(
        id=feedback.id or 0, session_id=feedback.session_id, created_at=feedback.created_at
    )


@router.get(
    "/sessions/{session_id}/feedback/summary",
    response_model=FeedbackSummary,
    summary="Read the summary of a session's feedback",
    description="The secretariat and the session's trainers; anyone else gets 404. Count, mean rating, "
    "distribution of ratings and the comments, sorted alphabetically: never who said what.",
    responses=problem_responses(401, 404, 422),
)
def feedback_summary(session: TaughtSession, db: DbSession) -> FeedbackSummary:
    return feedback_service.summarise(db, session)
