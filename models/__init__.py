"""Tables and schemas, one module per resource; imported here so Alembic sees every table."""

from models.application import Application, ApplicationDocument, ApplicationEvent
from models.attendance import HalfDayAttendance
from models.certificate import Certificate
from models.credential import ApiKey, LoginAttempt, RefreshFamily, RefreshToken
from models.deliverable import Deliverable, DeliverableMember, Evaluation
from models.discount import Discount
from models.feedback import Feedback
from models.quote import Quote, QuoteNumberCounter
from models.training_session import CatalogueVersion, SessionTrainer, TrainingSession
from models.user import User

__all__ = [
    "ApiKey",
    "Application",
    "ApplicationDocument",
    "ApplicationEvent",
    "CatalogueVersion",
    "Certificate",
    "Deliverable",
    "DeliverableMember",
    "Discount",
    "Evaluation",
    "Feedback",
    "HalfDayAttendance",
    "LoginAttempt",
    "Quote",
    "QuoteNumberCounter",
    "RefreshFamily",
    "RefreshToken",
    "SessionTrainer",
    "TrainingSession",
    "User",
]
