"""Accounts: registration, staff-created users, deactivation."""

from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.errors import EmailTaken, NotFound, ValidationFailed
from api.security import Passwords
from api.services.catalogue import bump_catalogue_version
from models.application import Application
from models.credential import ApiKey, RefreshFamily, RefreshToken
from models.training_session import TrainingSession
from models.user import EMAIL_MAX_LENGTH, Role, User, UserCreate, UserRegister, UserUpdate


def normalize_email(email: str, *, loc: list[str | int] | None = None) -> str:
    """The form an email is stored and looked up in; checked after lowering, which may lengthen it
    ("İ" lowers to two characters)."""
    normalized = email.strip().lower()
    if len(normalized) > EMAIL_MAX_LENGTH:
        raise ValidationFailed(
            f"The email is longer than {EMAIL_MAX_LENGTH} characters.", loc=loc or ["body", "email"]
        )
    return normalized


def _clean_name(full_name: str) -> str:
    """The name without surrounding blanks; one made only of blanks is no name."""
    cleaned = full_name.strip()
    if not cleaned:
        raise ValidationFailed("full_name must not be blank.", loc=["body", "full_name"])
    return cleaned


def find_user_by_email(db: Session, email: str) -> User | None:
    return db.exec(select(User).where(User.email == normalize_email(email))).first()


def create_user(
    db: Session, *, email: str, password: str, full_name: str, role: Role, now: datetime, passwords: Passwords
) -> User:
    """A new account, its password hashed by `passwords`; the email is unique whatever its case."""
    email = normalize_email(email)
    full_name = _clean_name(full_name)
    # Hashed before the first query, so that no write lock is held while Argon2 runs.
    password_hash = passwords.hash(password)
    if find_user_by_email(db, email) is not None:
        raise EmailTaken(f"An account already uses {email}.")
    user = User(
        email=email,
        full_name=full_name,
        password_hash=password_hash,
        role=role,
        active=True,
        created_at=now,
        updated_at=now,
    )
    try:
        # A concurrent registration of the same email loses here, not with a 500.
        with db.begin_nested():
            db.add(user)
            db.flush()
    except IntegrityError as error:
        raise EmailTaken(f"An account already uses {email}.") from error
    return user


def register_applicant(db: Session, data: UserRegister, *, now: datetime, passwords: Passwords) -> User:
    """Anyone may open an applicant account."""
    return create_user(
        db,
        email=data.email,
        password=data.password,
        full_name=data.full_name,
        role=Role.applicant,
        now=now,
        passwords=passwords,
    )


def create_staff_user(db: Session, data: UserCreate, *, now: datetime, passwords: Passwords) -> User:
    """The secretariat creates trainers and other staff."""
    return create_user(
        db,
        email=data.email,
        password=data.password,
        full_name=data.full_name,
        role=Role(data.role),
        now=now,
        passwords=passwords,
    )


def get_user(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("No user with this id.")
    return user


def list_users(db: Session, *, role: Role | None, limit: int, offset: int) -> tuple[list[User], int]:
    query = select(User)
    count = select(func.count()).select_from(User)
    if role is not None:
        query = query.where(User.role == role)
        count = count.where(User.role == role)
    items = db.exec(query.order_by(col(User.id)).limit(limit).offset(offset)).all()
    return list(items), db.exec(count).one()


def _lock_sessions_listing(db: Session, user: User) -> None:
    """Lock, in id order, the sessions whose application lists show the user: the database bumps
    them when the name changes (migration 0012), and every transaction locks sessions before
    accounts (and before the catalogue's row), so a rename racing a decision never deadlocks."""
    listing = select(Application.session_id).where(Application.applicant_id == user.id)
    db.exec(
        select(TrainingSession.id)
        .where(col(TrainingSession.id).in_(listing))
        .order_by(col(TrainingSession.id))
        .with_for_update()
    ).all()


def update_user(db: Session, user: User, data: UserUpdate, *, now: datetime) -> User:
    """Rename or (de)activate; deactivation revokes every credential of the user at once, and
    reactivation brings none of them back."""
    changes = data.model_dump(exclude_unset=True)
    full_name = _clean_name(changes["full_name"]) if "full_name" in changes else user.full_name
    if full_name != user.full_name:
        _lock_sessions_listing(db, user)
        user.full_name = full_name
        # Trainer names appear in the public listing.
        bump_catalogue_version(db)
    deactivating = changes.get("active") is False and user.active
    if "active" in changes:
        user.active = changes["active"]
    if deactivating:
        user.token_version += 1
    user.updated_at = now
    db.add(user)
    # The user row is written (and locked) before the families are revoked: a login waiting on it
    # is refused, and one that came first has its family revoked below.
    db.flush()
    if deactivating:
        _revoke_credentials(db, user, now=now)
    return user


def _revoke_credentials(db: Session, user: User, *, now: datetime) -> None:
    """Revoke every refresh-token family and API key of `user`."""
    db.execute(
        update(RefreshFamily)
        .where(col(RefreshFamily.user_id) == user.id, col(RefreshFamily.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    db.execute(
        update(RefreshToken)
        .where(col(RefreshToken.user_id) == user.id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    db.execute(
        update(ApiKey)
        .where(col(ApiKey.user_id) == user.id, col(ApiKey.revoked_at).is_(None))
        .values(revoked_at=now)
    )
