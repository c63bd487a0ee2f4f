"""A scratch database for one bench: a SQLite file in the temporary folder, or a fresh PostgreSQL
database created beside the one ATELIERS_DATABASE_URL names, and dropped afterwards.

The named PostgreSQL database is only connected to (autocommit) to run CREATE and DROP DATABASE;
its own tables are never touched.
"""

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def is_postgresql(url: str | None) -> bool:
    return bool(url) and make_url(url or "").get_backend_name() == "postgresql"


@contextmanager
def scratch_database(server_url: str | None, folder: Path, name: str) -> Iterator[str]:
    """The URL of an empty database for this bench, removed when the block ends."""
    if not is_postgresql(server_url):
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    assert server_url is not None
    database = f"ateliers_bench_{name}_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        try:
            yield make_url(server_url).set(database=database).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def describe(url: str) -> str:
    """The database and its version, for the report."""
    if not is_postgresql(url):
        return f"SQLite {sqlite3.sqlite_version} (file, WAL)"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar()
    finally:
        engine.dispose()
    return f"PostgreSQL {version}"
