"""Accounts: oneself, and the users the secretariat manages."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.deps import ClockDep, CurrentUser, DbSession, PasswordsDep, Secretariat, VisibleUser
from api.edge.body_limits import BoundedBodyRoute
from api.edge.problem import problem_responses
from api.services import users as user_service
from models.user import Role, UserCreate, UserPage, UserPublic, UserUpdate

router = APIRouter(prefix="/users", tags=["users"], route_class=BoundedBodyRoute)


@router.get("/me", response_model=UserPublic, summary="Who am I", responses=problem_responses(401))
def get_me(actor: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(actor.user)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    summary="Create a trainer or a staff account",
    responses=problem_responses(401, 403, 409, 422),
)
def create_user(
    data: UserCreate,
    response: Response,
    actor: Secretariat,
    db: DbSession,
    clock: ClockDep,
    passwords: PasswordsDep,
) -> UserPublic:
    user = user_service.create_staff_user(db, data, now=clock.now(), passwords=passwords)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return UserPublic.model_validate(user)


@router.get(
    "",
    response_model=UserPage,
    summary="List users",
    responses=problem_responses(401, 403, 422),
)
def list_users(
    actor: Secretariat,
    db: DbSession,
    role: Role | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> UserPage:
    users, total = user_service.list_users(db, role=role, limit=limit, offset=offset)
    return UserPage(
        items=[UserPublic.model_validate(u) for u in users], total=total, limit=limit, offset=offset
    )


@router.get(
    "/{user_id}",
    response_model=UserPublic,
    summary="Read a user (the secretariat, or the user itself)",
    responses=problem_responses(401, 404, 422),
)
def get_user(user: VisibleUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.patch(
    "/{user_id}",
    response_model=UserPublic,
    summary="Rename or deactivate a user",
    responses=problem_responses(401, 403, 404, 422),
)
def update_user(
    data: UserUpdate, user: VisibleUser, actor: Secretariat, db: DbSession, clock: ClockDep
) -> UserPublic:
    return UserPublic.model_validate(user_service.update_user(db, user, data, now=clock.now()))
