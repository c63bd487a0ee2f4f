"""Tables and schemas, one module per resource; imported here so Alembic sees every table."""

from models.credential import ApiKey, LoginAttempt, RefreshFamily, RefreshToken
from models.training_session import CatalogueVersion, SessionTrainer, TrainingSession
from models.user import User

__all__ = [
    "ApiKey",
    "CatalogueVersion",
    "LoginAttempt",
    "RefreshFamily",
    "RefreshToken",
    "SessionTrainer",
    "TrainingSession",
    "User",
]
