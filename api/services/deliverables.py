"""Deliverables and their evaluations: who may see a production, who may grade it, and who reads
the grades (members only once published)."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.errors import AlreadyEvaluated, Forbidden, NotFound, ValidationFailed
from api.services.auth import Actor
from models.application import Application, ApplicationStatus
from models.deliverable import (
    Criterion,
    Deliverable,
    DeliverableCreate,
    DeliverableMember,
    DeliverablePublic,
    Evaluation,
    EvaluationCreate,
    EvaluationPublic,
    EvaluationUpdate,
    EvaluatorRef,
    MemberRef,
)
from models.training_session import SessionTrainer, TrainingSession
from models.user import Role, User


def teaches(db: Session, actor: Actor, session_id: int) -> bool:
    """The secretariat, or a trainer assigned to the session."""
    if actor.is_secretariat:
        return True
    return actor.role == Role.trainer and db.get(SessionTrainer, (session_id, actor.id)) is not None


def member_applications(db: Session, actor: Actor, session_id: int) -> list[int]:
    """The ids of the actor's own accepted applications to the session."""
    ids = db.exec(
        select(Application.id).where(
            Application.session_id == session_id,
            Application.applicant_id == actor.id,
            Application.status == ApplicationStatus.accepted,
        )
    ).all()
    return [cast(int, application_id) for application_id in ids]


def is_member(db: Session, actor: Actor, deliverable: Deliverable) -> bool:
    """Whether one of the actor's accepted applications belongs to the deliverable."""
    query = (
        select(DeliverableMember.application_id)
        .join(Application, col(Application.id) == col(DeliverableMember.application_id))
        .where(
            DeliverableMember.deliverable_id == deliverable.id,
            Application.applicant_id == actor.id,
            Application.status == ApplicationStatus.accepted,
        )
    )
    return db.exec(query).first() is not None


def find_deliverable(db: Session, deliverable_id: int, *, actor: Actor) -> Deliverable:
    """A deliverable the actor may see: staff of its session, the secretariat, its members; else NotFound."""
    deliverable = db.get(Deliverable, deliverable_id)
    if deliverable is None or not (
        teaches(db, actor, deliverable.session_id) or is_member(db, actor, deliverable)
    ):
        raise NotFound("No deliverable with this id.")
    return deliverable


def _members(db: Session, deliverable_ids: Sequence[int]) -> dict[int, list[MemberRef]]:
    rows = db.exec(
        select(DeliverableMember.deliverable_id, Application.id, User.full_name)
        .join(Application, col(Application.id) == col(DeliverableMember.application_id))
        .join(User, col(User.id) == col(Application.applicant_id))
        .where(col(DeliverableMember.deliverable_id).in_(deliverable_ids))
        .order_by(col(Application.id))
    ).all()
    members: dict[int, list[MemberRef]] = {i: [] for i in deliverable_ids}
    for deliverable_id, application_id, full_name in rows:
        members[deliverable_id].append(
            MemberRef(application_id=cast(int, application_id), full_name=full_name)
        )
    return members


def to_public_list(db: Session, deliverables: Sequence[Deliverable]) -> list[DeliverablePublic]:
    """The representations of several deliverables, with their members in one query."""
    ids = [cast(int, d.id) for d in deliverables]
    members = _members(db, ids)
    return [
        DeliverablePublic(**d.model_dump(exclude={"created_by_id"}), members=members[cast(int, d.id)])
        for d in deliverables
    ]


def to_public(db: Session, deliverable: Deliverable) -> DeliverablePublic:
    return to_public_list(db, [deliverable])[0]


def create_deliverable(
    db: Session, session: TrainingSession, data: DeliverableCreate, *, actor: Actor, now: datetime
) -> Deliverable:
    """A group production of accepted trainees of the session."""
    member_ids = list(dict.fromkeys(data.member_ids))
    accepted = set(
        db.exec(
            select(Application.id).where(
                col(Application.id).in_(member_ids),
                Application.session_id == session.id,
                Application.status == ApplicationStatus.accepted,
            )
        ).all()
    )
    for index, application_id in enumerate(data.member_ids):
        if application_id not in accepted:
            raise ValidationFailed(
                f"Application {application_id} is not an accepted application of this session.",
                loc=["body", "member_ids", index],
            )
    deliverable = Deliverable(
        session_id=cast(int, session.id),
        title=data.title,
        description=data.description,
        url=str(data.url) if data.url is not None else "",
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    db.add(deliverable)
    db.flush()
    for application_id in member_ids:
        db.add(DeliverableMember(deliverable_id=cast(int, deliverable.id), application_id=application_id))
    db.flush()
    return deliverable


def list_deliverables(db: Session, session_id: int, *, actor: Actor) -> list[Deliverable]:
    """All of a session's deliverables for its staff; a trainee's own for an accepted trainee;
    NotFound for anyone else (and for a session that does not exist)."""
    if db.get(TrainingSession, session_id) is None:
        raise NotFound("No training session with this id.")
    query = select(Deliverable).where(Deliverable.session_id == session_id).order_by(col(Deliverable.id))
    if teaches(db, actor, session_id):
        return list(db.exec(query).all())
    own = member_applications(db, actor, session_id)
    if not own:
        raise NotFound("No training session with this id.")
    mine = select(DeliverableMember.deliverable_id).where(col(DeliverableMember.application_id).in_(own))
    return list(db.exec(query.where(col(Deliverable.id).in_(mine))).all())


# Evaluations


def _check_scores(score: Decimal, max_score: int, criteria: Sequence[Criterion]) -> None:
    if score > max_score:
        raise ValidationFailed(f"score cannot exceed max_score ({max_score}).", loc=["body", "score"])
    for index, criterion in enumerate(criteria):
        if criterion.score > criterion.max_score:
            raise ValidationFailed(
                f"A criterion's score cannot exceed its max_score ({criterion.max_score}).",
                loc=["body", "criteria", index, "score"],
            )


def _criteria_json(criteria: Sequence[Criterion]) -> list[dict[str, Any]]:
    return [criterion.model_dump(mode="json") for criterion in criteria]


def evaluate(
    db: Session, deliverable: Deliverable, data: EvaluationCreate, *, actor: Actor, now: datetime
) -> Evaluation:
    """A trainer of the session grades a deliverable once; the secretariat and members may not."""
    if actor.role != Role.trainer or not teaches(db, actor, deliverable.session_id):
        raise Forbidden("Only a trainer of the session evaluates its deliverables.")
    _check_scores(data.score, data.max_score, data.criteria)
    evaluation = Evaluation(
        deliverable_id=cast(int, deliverable.id),
        trainer_id=actor.id,
        score=data.score,
        max_score=data.max_score,
        criteria=_criteria_json(data.criteria),
        comment=data.comment,
        published=data.published,
        created_at=now,
        updated_at=now,
    )
    try:
        # A savepoint: the unique constraint answers a racing second evaluation without
        # spoiling the request's transaction.
        with db.begin_nested():
            db.add(evaluation)
            db.flush()
    except IntegrityError:
        raise AlreadyEvaluated(
            "You have already evaluated this deliverable; change your evaluation instead."
        ) from None
    return evaluation


def may_see_evaluation(db: Session, actor: Actor, evaluation: Evaluation, deliverable: Deliverable) -> bool:
    if teaches(db, actor, deliverable.session_id):
        return True
    return evaluation.published and is_member(db, actor, deliverable)


def find_evaluation(db: Session, evaluation_id: int, *, actor: Actor) -> Evaluation:
    """An evaluation the actor may see (staff of the session; members once published); else NotFound."""
    evaluation = db.get(Evaluation, evaluation_id)
    deliverable = db.get(Deliverable, evaluation.deliverable_id) if evaluation is not None else None
    if (
        evaluation is None
        or deliverable is None
        or not may_see_evaluation(db, actor, evaluation, deliverable)
    ):
        raise NotFound("No evaluation with this id.")
    return evaluation


def update_evaluation(
    db: Session, evaluation: Evaluation, data: EvaluationUpdate, *, actor: Actor, now: datetime
) -> Evaluation:
    """Its author changes an evaluation; the others who may see it get Forbidden."""
    if evaluation.trainer_id != actor.id:
        raise Forbidden("Only the author of an evaluation may change it.")
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None:
            raise ValidationFailed(f"{name} cannot be null.", loc=["body", name])
    score = data.score if "score" in changes else evaluation.score
    max_score = data.max_score if "max_score" in changes else evaluation.max_score
    criteria = (
        data.criteria
        if "criteria" in changes
        else [Criterion.model_validate(item) for item in evaluation.criteria]
    )
    _check_scores(score, max_score, criteria)
    evaluation.score = score
    evaluation.max_score = max_score
    evaluation.criteria = _criteria_json(criteria)
    if "comment" in changes:
        evaluation.comment = data.comment
    if "published" in changes:
        evaluation.published = data.published
    evaluation.updated_at = now
    db.add(evaluation)
    db.flush()
    return evaluation


def list_evaluations(db: Session, deliverable: Deliverable, *, actor: Actor) -> list[Evaluation]:
    """Every evaluation for the session's staff; the published ones for a member."""
    query = select(Evaluation).where(Evaluation.deliverable_id == deliverable.id).order_by(col(Evaluation.id))
    if not teaches(db, actor, deliverable.session_id):
        query = query.where(col(Evaluation.published).is_(True))
    return list(db.exec(query).all())


def evaluation_to_public(db: Session, evaluation: Evaluation) -> EvaluationPublic:
    trainer = db.get(User, evaluation.trainer_id)
    assert trainer is not None  # foreign key
    return EvaluationPublic(
        **evaluation.model_dump(exclude={"trainer_id", "criteria"}),
        trainer=EvaluatorRef(id=cast(int, trainer.id), full_name=trainer.full_name),
        criteria=[Criterion.model_validate(item) for item in evaluation.criteria],
    )


def published_results(db: Session, application: Application) -> list[tuple[str, Decimal, int]]:
    """(deliverable title, score, max score) of the published evaluations of the deliverables the
    application's trainee belongs to: what a certificate reports."""
    rows = db.exec(
        select(col(Deliverable.title), col(Evaluation.score), col(Evaluation.max_score))
        .join(Evaluation, col(Evaluation.deliverable_id) == col(Deliverable.id))
        .join(DeliverableMember, col(DeliverableMember.deliverable_id) == col(Deliverable.id))
        .where(DeliverableMember.application_id == application.id, col(Evaluation.published).is_(True))
        .order_by(col(Deliverable.id), col(Evaluation.id))
    ).all()
    return [(title, Decimal(score), max_score) for title, score, max_score in rows]
