"""TEMPORARY stand-in: the attendance engineer's module replaces this file at merge."""

from decimal import Decimal

from sqlmodel import Session

from models.application import Application


def hours_attended(db: Session, application: Application) -> Decimal:
    """Hours attended by an application's trainee, from the attendance record."""
    return Decimal("0")
