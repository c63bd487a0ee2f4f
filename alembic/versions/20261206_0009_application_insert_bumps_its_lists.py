"""a new application bumps its lists' versions in the database

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 04:00:00.000000

A trigger, so that every INSERT of an application (a submission, the seeding, a script) changes
the `applications_version` of its session and of its applicant in its own statement: two
statements fewer per submission, and no insert path can forget them. It locks the session's row
before the applicant's, the order every other bump keeps (api/services/list_versions.py).
Updates and deletes keep being bumped by the service, sorted, just before COMMIT.

SQLite drops a table's triggers when `batch_alter_table` recreates it: a migration that
recreates `application` must create this trigger again (tests/test_caching.py notices).
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUMPS = (
    "UPDATE training_session SET applications_version = applications_version + 1 "
    "WHERE id = NEW.session_id; "
    "UPDATE user_account SET applications_version = applications_version + 1 "
    "WHERE id = NEW.applicant_id;"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION application_inserted_bump_lists() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {_BUMPS} RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER application_inserted_bump_lists AFTER INSERT ON application "
            "FOR EACH ROW EXECUTE FUNCTION application_inserted_bump_lists()"
        )
    else:
        op.execute(
            "CREATE TRIGGER application_inserted_bump_lists AFTER INSERT ON application "
            f"FOR EACH ROW BEGIN {_BUMPS} END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER application_inserted_bump_lists ON application")
        op.execute("DROP FUNCTION application_inserted_bump_lists()")
    else:
        op.execute("DROP TRIGGER application_inserted_bump_lists")
