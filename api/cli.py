"""The `ateliers` command line: migrate, create-user, seed-demo, serve, worker, export-openapi."""

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic.config import Config
from sqlmodel import Session

from alembic import command
from api.clock import SystemClock
from api.config import get_settings

# The project folder: beside the package in a checkout, the working folder in an installed image.
_CHECKOUT = Path(__file__).resolve().parent.parent
ROOT = _CHECKOUT if (_CHECKOUT / "alembic.ini").exists() else Path.cwd()


def alembic_config(database_url: str | None = None) -> Config:
    """Alembic's configuration for this project, aimed at the configured database."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", (database_url or get_settings().database_url).replace("%", "%%"))
    return config


@contextmanager
def _transaction(*, write: bool = True) -> Iterator[Session]:
    """A transaction on the configured database, run by the service's one runner (committed when
    the block ends, rolled back on an error); a read one when `write` is false."""
    from api.db.engine import build_engine, open_session
    from api.db.transactions import transaction

    engine = build_engine(get_settings())
    try:
        with transaction(open_session(engine, write=write)) as db:
            yield db
    finally:
        engine.dispose()


def migrate(_: argparse.Namespace) -> int:
    command.upgrade(alembic_config(), "head")
    return 0


def create_user(args: argparse.Namespace) -> int:
    from api.errors import DomainError
    from api.security import Passwords
    from api.services.users import create_user as create
    from models.user import Role

    try:
        with _transaction() as db:
            user = create(
                db,
                email=args.email,
                password=args.password,
                full_name=args.full_name,
                role=Role(args.role),
                now=SystemClock().now(),
                passwords=Passwords.from_settings(get_settings()),
            )
    except DomainError as error:
        print(error.detail, file=sys.stderr)
        return 1
    print(f"created {user.role} {user.email} (id {user.id})")
    return 0


def seed_demo(_: argparse.Namespace) -> int:
    from api.demo import seed_demo as seed
    from api.security import Passwords

    with _transaction() as db:
        accounts = seed(db, now=SystemClock().now(), passwords=Passwords.from_settings(get_settings()))
    print("Demo data ready. Accounts (email / password / role):")
    for account in accounts:
        print(f"  {account.email:34} {account.password:24} {account.role}")
    return 0


def worker(args: argparse.Namespace) -> int:
    """Background upkeep, in a process of its own: purging spent credentials, and deleting
    document files that no row names (an upload that crashed before its commit)."""
    import time

    from api.services.application_files import remove_orphan_files
    from api.services.auth import purge_expired_credentials

    while True:
        settings = get_settings()
        with _transaction() as db:
            purged = purge_expired_credentials(db, settings=settings, now=SystemClock().now())
        # A read: on SQLite, deleting the files holds no write lock.
        with _transaction(write=False) as db:
            removed = remove_orphan_files(db, storage_dir=settings.storage_dir, now=SystemClock().now())
        print(
            f"purged {purged.login_attempts} login attempts, {purged.refresh_tokens} refresh tokens",
            flush=True,
        )
        print(f"removed {removed} orphan document files", flush=True)
        if args.once:
            return 0
        time.sleep(args.interval)


def serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    settings = get_settings()
    if settings.secret_key_generated:
        # Every worker must sign with the same key: the one made here is handed down to them.
        os.environ["ATELIERS_SECRET_KEY"] = settings.signing_key
        print(
            "ATELIERS_SECRET_KEY is not set: tokens are signed with a random key made for this run "
            "and stop working when it ends (development only).",
            file=sys.stderr,
        )
    uvicorn.run(
        "api.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        # httptools with limits on request heads (api/edge/server.py); by import string for --workers.
        http="api.edge.server:BoundedHttpToolsProtocol",
        access_log=False,
        # The app itself believes X-Forwarded-For from ATELIERS_TRUSTED_PROXIES only.
        proxy_headers=False,
    )
    return 0


def export_openapi(args: argparse.Namespace) -> int:
    from api.main import create_app

    schema = create_app().openapi()
    text = json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    Path(args.output).write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ateliers", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("migrate", help="upgrade the database to the latest migration").set_defaults(
        run=migrate
    )

    user = commands.add_parser("create-user", help="create an account")
    user.add_argument("--email", required=True)
    user.add_argument("--password", required=True)
    user.add_argument("--full-name", required=True)
    user.add_argument("--role", required=True, choices=["applicant", "trainer", "secretariat"])
    user.set_defaults(run=create_user)

    commands.add_parser("seed-demo", help="load the brochure's session and demo accounts").set_defaults(
        run=seed_demo
    )

    upkeep = commands.add_parser("worker", help="background upkeep: spent credentials, orphan files")
    upkeep.add_argument("--once", action="store_true", help="one pass, then exit")
    upkeep.add_argument("--interval", type=int, default=300, help="seconds between passes")
    upkeep.set_defaults(run=worker)

    server = commands.add_parser("serve", help="serve the API with uvicorn")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=8000)
    server.add_argument("--workers", type=int, default=1)
    server.set_defaults(run=serve)

    export = commands.add_parser("export-openapi", help="write the OpenAPI schema")
    export.add_argument("--output", default=str(ROOT / "openapi" / "openapi.json"))
    export.set_defaults(run=export_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
