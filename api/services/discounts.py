"""Discounts: the reductions the secretariat offers, and which of them the public may see."""

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from api.db.engine import lock_names
from api.errors import DiscountCodeTaken, NotFound, ValidationFailed
from api.services.catalogue import bump_catalogue_version
from models.discount import Discount, DiscountCreate, DiscountPublic, DiscountUpdate
from models.training_session import PUBLIC_STATUSES, TrainingSession


def _currently_valid(query: Any, *, today: date) -> Any:
    return query.where(
        col(Discount.active).is_(True),
        or_(col(Discount.valid_from).is_(None), col(Discount.valid_from) <= today),
        or_(col(Discount.valid_until).is_(None), col(Discount.valid_until) >= today),
    )


def _require_session(db: Session, session_id: int, *, include_private: bool, loc: list[str | int]) -> None:
    session = db.get(TrainingSession, session_id)
    if session is None or (not include_private and session.status not in PUBLIC_STATUSES):
        raise ValidationFailed(f"No training session with id {session_id}.", loc=loc)


def list_discounts(
    db: Session,
    *,
    session_id: int | None,
    code: str | None = None,
    include_inactive: bool,
    today: date,
    limit: int,
    offset: int,
) -> tuple[list[Discount], int]:
    """A page of discounts: the active and currently valid ones, or all for the secretariat.

    With `session_id`, those of that session and those of every session; with `code`, the one
    discount of that code, whatever the case it is typed in.
    """
    if session_id is not None:
        _require_session(db, session_id, include_private=include_inactive, loc=["query", "session_id"])

    def narrowed(query: Any) -> Any:
        if not include_inactive:
            query = _currently_valid(query, today=today)
        if session_id is not None:
            query = query.where(
                or_(col(Discount.session_id).is_(None), col(Discount.session_id) == session_id)
            )
        if code is not None:
            query = query.where(Discount.code == code.strip().upper())
        return query

    items = db.exec(narrowed(select(Discount)).order_by(col(Discount.id)).limit(limit).offset(offset)).all()
    total = db.exec(narrowed(select(func.count()).select_from(Discount))).one()
    return cast(list[Discount], list(items)), total


def find_discount(db: Session, discount_id: int, *, include_inactive: bool) -> Discount:
    """A discount by id: inactive ones only for the secretariat; otherwise NotFound."""
    discount = db.get(Discount, discount_id)
    if discount is None or (not include_inactive and not discount.active):
        raise NotFound("No discount with this id.")
    return discount


def find_discount_by_code(db: Session, code: str) -> Discount | None:
    """The discount with this code, whatever the case it is typed in."""
    return db.exec(select(Discount).where(Discount.code == code.strip().upper())).first()


def _claim_code(db: Session, code: str, *, other_than: int | None = None) -> None:
    # PostgreSQL: concurrent writers of one code wait for each other (SQLite already does).
    lock_names(db, f"discount-code:{code}")
    existing = find_discount_by_code(db, code)
    if existing is not None and existing.id != other_than:
        raise DiscountCodeTaken(f"The code {code!r} is already used by another discount.")


def create_discount(db: Session, data: DiscountCreate, *, now: datetime) -> Discount:
    """A new discount; its code is unique, upper case."""
    if data.session_id is not None:
        _require_session(db, data.session_id, include_private=True, loc=["body", "session_id"])
    _claim_code(db, data.code)
    discount = Discount(**data.model_dump(), created_at=now, updated_at=now)
    db.add(discount)
    db.flush()
    bump_catalogue_version(db)
    return discount


def update_discount(db: Session, discount: Discount, data: DiscountUpdate, *, now: datetime) -> Discount:
    """Change some fields; the result still takes off exactly one of a percent or an amount."""
    changes = data.model_dump(exclude_unset=True)
    for name in ("code", "label", "eligibility", "requires_proof", "active"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be null.", loc=["body", name])
    percent = changes.get("percent", discount.percent)
    amount_cents = changes.get("amount_cents", discount.amount_cents)
    if (percent is None) == (amount_cents is None):
        where = "percent" if "percent" in changes else "amount_cents"
        raise ValidationFailed("Give exactly one of percent and amount_cents.", loc=["body", where])
    valid_from = changes.get("valid_from", discount.valid_from)
    valid_until = changes.get("valid_until", discount.valid_until)
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise ValidationFailed("valid_until must be on or after valid_from.", loc=["body", "valid_until"])
    if changes.get("session_id") is not None:
        _require_session(db, changes["session_id"], include_private=True, loc=["body", "session_id"])
    if "code" in changes:
        _claim_code(db, changes["code"], other_than=discount.id)
    for name, value in changes.items():
        setattr(discount, name, value)
    discount.updated_at = now
    db.add(discount)
    db.flush()
    bump_catalogue_version(db)
    return discount


def deactivate_discount(db: Session, discount: Discount, *, now: datetime) -> None:
    """Deleting a discount deactivates it: applications and quotes may still name it."""
    discount.active = False
    discount.updated_at = now
    db.add(discount)
    db.flush()
    bump_catalogue_version(db)


def to_public(discount: Discount) -> DiscountPublic:
    """The representation every reader gets."""
    return DiscountPublic.model_validate(discount, from_attributes=True)
