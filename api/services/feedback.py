"""Trainees' feedback: given once by an accepted trainee from the session's first day, read by its
staff only as an anonymous summary."""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api.clock import paris_today
from api.errors import FeedbackAlreadyGiven, Forbidden, NotEligible, NotFound
from api.services.auth import Actor
from api.services.deliverables import member_applications, teaches
from models.feedback import Feedback, FeedbackCreate, FeedbackSummary
from models.training_session import TrainingSession


def give_feedback(
    db: Session, session_id: int, data: FeedbackCreate, *, actor: Actor, now: datetime
) -> Feedback:
    """An accepted trainee's feedback, once, from the first day of the session."""
    session = db.get(TrainingSession, session_id)
    if session is None:
        raise NotFound("No training session with this id.")
    own = member_applications(db, actor, session_id)
    if not own:
        if teaches(db, actor, session_id):
            raise Forbidden("Only the session's trainees give feedback.")
        raise NotFound("No training session with this id.")
    if paris_today(now) < session.start_date:
        raise NotEligible(f"Feedback opens on the session's first day, {session.start_date.isoformat()}.")
    feedback = Feedback(
        session_id=session_id,
        application_id=own[0],
        rating=data.rating,
        comment=data.comment.strip(),
        answers=dict(data.answers),
        created_at=now,
    )
    try:
        with db.begin_nested():
            db.add(feedback)
            db.flush()
    except IntegrityError:
        raise FeedbackAlreadyGiven("You have already given your feedback on this session.") from None
    return feedback


def summarise(db: Session, session: TrainingSession) -> FeedbackSummary:
    """Count, mean, distribution and comments: nothing says who wrote what, or in which order."""
    rows = db.exec(select(Feedback.rating, Feedback.comment).where(Feedback.session_id == session.id)).all()
    distribution = {str(n): 0 for n in range(1, 6)}
    for rating, _ in rows:
        distribution[str(rating)] += 1
    average = None
    if rows:
        mean = Decimal(sum(rating for rating, _ in rows)) / len(rows)
        average = str(mean.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    # Sorted, not in submission order: the order says nothing about who wrote first.
    comments = sorted((comment for _, comment in rows if comment), key=lambda c: (c.casefold(), c))
    return FeedbackSummary(count=len(rows), average=average, distribution=distribution, comments=comments)
