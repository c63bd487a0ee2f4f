"""What every table shares: the naming convention, aware UTC timestamps, bounded text."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, cast

from pydantic import ConfigDict, StringConstraints
from sqlalchemy import DateTime, Dialect
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# Named constraints so that Alembic's batch mode (SQLite) can drop and rebuild them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Largest integer an INTEGER column (ids included) holds; bigger inputs never reach a driver.
MAX_INT = 2**31 - 1

# No NUL byte: PostgreSQL refuses them in text, so they are refused at the door.
NO_NUL = r"^[^\x00]*$"

# Request string types: each has a maximum length and refuses NUL bytes.
Label = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
ShortText = Annotated[str, StringConstraints(max_length=300, pattern=NO_NUL)]
Paragraph = Annotated[str, StringConstraints(max_length=5000, pattern=NO_NUL)]
LongText = Annotated[str, StringConstraints(max_length=50000, pattern=NO_NUL)]
OpaqueToken = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored with its zone where the database can, and always read back aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def with_examples(*examples: dict[str, Any]) -> Any:
    """A model configuration whose JSON schema carries request examples for the OpenAPI spec."""
    return ConfigDict(json_schema_extra={"examples": list(examples)})


Row = TypeVar("Row", bound=SQLModel)


def stored_row(model: type[Row], values: Mapping[str, Any]) -> Row:
    """A row known to be in the database, as its table model, from column values already read or
    written (its primary key among them): filled as the ORM fills a loaded row (already valid, so not
    validated again), and detached, so that no session inserts it again. Give every column it will be
    read for: it is never loaded. Its identity is set directly: SQLAlchemy's
    make_transient_to_detached, which also expires what was not given, cost three times the rest."""
    manager = manager_of_class(model)
    instance = manager.new_instance()
    instance.__dict__.update(values)
    mapper = manager.mapper
    state = manager.state_getter()(instance)
    key = tuple(values[column.name] for column in mapper.primary_key)
    state.key = mapper.identity_key_from_primary_key(key)
    return cast(Row, instance)
