"""Accounts: registration, staff-created users, deactivation."""

from datetime import datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.errors import EmailTaken, NotFound, ValidationFailed
from api.security import hash_password
from api.services.catalogue import bump_catalogue_version
from models.user import Role, User, UserCreate, UserRegister, UserUpdate


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _clean_name(full_name: str) -> str:
    """The name without surrounding blanks; one made only of blanks is no name."""
    cleaned = full_name.strip()
    if not cleaned:
        raise ValidationFailed("full_name must not be blank.", loc=["body", "full_name"])
    return cleaned


def find_user_by_email(db: Session, email: str) -> User | None:
    return db.exec(select(User).where(User.email == normalize_email(email))).first()


def create_user(db: Session, *, email: str, password: str, full_name: str, role: Role, now: datetime) -> User:
    """A new account; the email is unique whatever its case."""
    email = normalize_email(email)
    full_name = _clean_name(full_name)
    if find_user_by_email(db, email) is not None:
        raise EmailTaken(f"An account already uses {email}.")
    user = User(
        email=email,
        full_name=full_name,
        password_hash=hash_password(password),
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


def register_applicant(db: Session, data: UserRegister, *, now: datetime) -> User:
    """Anyone may open an applicant account."""
    return create_user(
        db, email=data.email, password=data.password, full_name=data.full_name, role=Role.applicant, now=now
    )


def create_staff_user(db: Session, data: UserCreate, *, now: datetime) -> User:
    """The secretariat creates trainers and other staff."""
    return create_user(
        db, email=data.email, password=data.password, full_name=data.full_name, role=Role(data.role), now=now
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


def update_user(db: Session, user: User, data: UserUpdate, *, now: datetime) -> User:
    """Rename or (de)activate; a deactivated user's tokens fail from the next request."""
    changes = data.model_dump(exclude_unset=True)
    full_name = _clean_name(changes["full_name"]) if "full_name" in changes else user.full_name
    if full_name != user.full_name:
        user.full_name = full_name
        # Trainer names appear in the public listing.
        bump_catalogue_version(db)
    if "active" in changes:
        user.active = changes["active"]
    user.updated_at = now
    db.add(user)
    db.flush()
    return user
