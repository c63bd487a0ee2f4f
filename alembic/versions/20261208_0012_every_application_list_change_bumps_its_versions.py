"""every change an application list shows bumps its versions in the database

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 09:00:00.000000

One mechanism for the `applications_version` of sessions and applicants (docs/caching.md):
triggers, whichever path writes (the ORM's flush, a Core statement, a bulk UPDATE, a foreign
key's cascade, a script). 0009 bumps on an INSERT of an application; these bump on its UPDATE and
DELETE, and on a change of the name or email of an account, which the lists show beside its
applications. They replace the service's flush and commit hooks and its explicit calls after bulk
statements, which a new write could forget.

Rows are always bumped sessions first, then accounts, each in id order (on PostgreSQL, once per
statement, from its transition tables): two transactions never wait on each other's rows in
turn. An account's rename locks its own row before its sessions': the service locks those sessions
first (api/services/users.py).

SQLite drops a table's triggers when `batch_alter_table` recreates it: a migration that recreates
`application` or `user_account` must create them again (tests/test_caching.py notices).
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _bump_in_order(column: str, table: str, rows: str) -> str:
    """PL/pgSQL: bump `table`'s rows named by `column` of the `rows` query, in id order."""
    return (
        f"FOR row_id IN SELECT DISTINCT {column} FROM ({rows}) AS changed ORDER BY 1 LOOP "
        f"UPDATE {table} SET applications_version = applications_version + 1 WHERE id = row_id; "
        "END LOOP; "
    )


def _postgresql_function(name: str, rows: str, *, returns: str = "NULL", then: str = "") -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "DECLARE row_id bigint; BEGIN "
        f"{_bump_in_order('session_id', 'training_session', rows)}"
        f"{then}RETURN {returns}; END $$"
    )


_BOTH_STATES = "SELECT session_id, applicant_id FROM old_rows UNION ALL SELECT session_id, applicant_id FROM new_rows"
_OLD_STATE = "SELECT session_id, applicant_id FROM old_rows"
_RENAMED = "NEW.full_name IS DISTINCT FROM OLD.full_name OR NEW.email IS DISTINCT FROM OLD.email"

_POSTGRESQL = (
    _postgresql_function(
        "application_updated_bump_lists",
        _BOTH_STATES,
        then=_bump_in_order("applicant_id", "user_account", _BOTH_STATES),
    ),
    "CREATE TRIGGER application_updated_bump_lists AFTER UPDATE ON application "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION application_updated_bump_lists()",
    _postgresql_function(
        "application_deleted_bump_lists",
        _OLD_STATE,
        then=_bump_in_order("applicant_id", "user_account", _OLD_STATE),
    ),
    "CREATE TRIGGER application_deleted_bump_lists AFTER DELETE ON application "
    "REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION application_deleted_bump_lists()",
    # Before the row is written: the account's own version is bumped in its own UPDATE.
    _postgresql_function(
        "user_account_renamed_bump_lists",
        "SELECT session_id FROM application WHERE applicant_id = NEW.id",
        returns="NEW",
        then="NEW.applications_version := NEW.applications_version + 1; ",
    ),
    "CREATE TRIGGER user_account_renamed_bump_lists BEFORE UPDATE OF full_name, email ON user_account "
    f"FOR EACH ROW WHEN ({_RENAMED}) EXECUTE FUNCTION user_account_renamed_bump_lists()",
)

_SQLITE_BUMPS = (
    "UPDATE training_session SET applications_version = applications_version + 1 "
    "WHERE id IN ({sessions}); "
    "UPDATE user_account SET applications_version = applications_version + 1 "
    "WHERE id IN ({applicants});"
)
_SQLITE = (
    "CREATE TRIGGER application_updated_bump_lists AFTER UPDATE ON application FOR EACH ROW BEGIN "
    + _SQLITE_BUMPS.format(
        sessions="OLD.session_id, NEW.session_id", applicants="OLD.applicant_id, NEW.applicant_id"
    )
    + " END",
    "CREATE TRIGGER application_deleted_bump_lists AFTER DELETE ON application FOR EACH ROW BEGIN "
    + _SQLITE_BUMPS.format(sessions="OLD.session_id", applicants="OLD.applicant_id")
    + " END",
    "CREATE TRIGGER user_account_renamed_bump_lists AFTER UPDATE OF full_name, email ON user_account "
    f"FOR EACH ROW WHEN {_RENAMED.replace('IS DISTINCT FROM', 'IS NOT')} BEGIN "
    + _SQLITE_BUMPS.format(
        sessions="SELECT session_id FROM application WHERE applicant_id = NEW.id", applicants="NEW.id"
    )
    + " END",
)

_TRIGGERS = (
    ("application_updated_bump_lists", "application"),
    ("application_deleted_bump_lists", "application"),
    ("user_account_renamed_bump_lists", "user_account"),
)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL if postgresql else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, table in _TRIGGERS:
        if postgresql:
            op.execute(f"DROP TRIGGER {name} ON {table}")
            op.execute(f"DROP FUNCTION {name}()")
        else:
            op.execute(f"DROP TRIGGER {name}")
