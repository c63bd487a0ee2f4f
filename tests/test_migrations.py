"""The database is built by Alembic, and the migrations say exactly what the models say."""

import io

import httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import models  # noqa: F401
from alembic import command
from api.cli import alembic_config
from tests.conftest import UserFactory
from tests.factories import build_cohort


def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": True}
            )
            differences = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert differences == [], "models and migrations drifted: add a migration"


def test_database_is_at_the_head_revision(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() is not None
            assert "catalogue_version" in inspect(connection).get_table_names()
    finally:
        engine.dispose()


def _pdf_text(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(answer.content)).pages)


def test_quotes_and_certificates_issued_before_0010_print_as_they_did(
    make_user: UserFactory, secretariat: TestClient, anonymous: TestClient, database_url: str
) -> None:
    cohort = build_cohort(make_user, secretariat, objectives=["Concevoir un projet de médiation"])
    quote = secretariat.post(f"/applications/{cohort.member_app}/quotes").json()
    assert secretariat.post(f"/quotes/{quote['id']}/issue").status_code == 200
    for action in ("close", "complete"):
        assert secretariat.post(f"/sessions/{cohort.session['id']}/{action}").status_code == 200
    certificate = secretariat.post(f"/applications/{cohort.member_app}/certificate").json()

    def printed() -> tuple[str, str, dict[str, object]]:
        return (
            _pdf_text(cohort.member.get(f"/quotes/{quote['id']}/pdf")),
            _pdf_text(cohort.member.get(f"/certificates/{certificate['id']}/pdf")),
            anonymous.get(f"/certificates/verify/{certificate['code']}").json(),
        )

    before = printed()
    # Back to before 0010, where they kept nothing, and up again: 0010 fills them from what they printed.
    command.downgrade(alembic_config(database_url), "0009")
    command.upgrade(alembic_config(database_url), "head")
    assert printed() == before
