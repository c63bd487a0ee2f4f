"""What the operations endpoints ask of the service: is the database there."""

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError


def database_answers(engine: Engine) -> bool:
    """True when the database accepts a connection and answers a trivial query."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True
