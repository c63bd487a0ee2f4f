"""Registration, tokens and API keys."""

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import (
    ClockDep,
    DbSession,
    HotWrites,
    PasswordsDep,
    ResourceId,
    Secretariat,
    SecretariatInPerson,
    SettingsDep,
)
from api.edge.body_limits import BoundedBodyRoute
from api.edge.problem import problem_responses
from api.services import auth as auth_service
from api.services import users as user_service
from models.base import NO_NUL
from models.credential import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyPublic, RefreshIn, TokenPair
from models.user import UserPublic, UserRegister

public_router = APIRouter(prefix="/auth", tags=["auth"], route_class=BoundedBodyRoute)
router = APIRouter(prefix="/auth", tags=["auth"], route_class=BoundedBodyRoute)


def _no_store(response: Response) -> None:
    # An answer carrying a credential is never cached, by a browser or a proxy (RFC 6749 §5.1).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


class LoginForm(BaseModel):
    """The OAuth2 password flow's form, with a maximum length on every field."""

    grant_type: Annotated[str | None, Field(pattern="^password$", max_length=8)] = None
    username: Annotated[str, Field(min_length=1, max_length=254, pattern=NO_NUL, description="Email")]
    password: Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]
    scope: Annotated[str, Field(max_length=200, pattern=NO_NUL)] = ""
    client_id: Annotated[str | None, Field(max_length=200, pattern=NO_NUL)] = None
    client_secret: Annotated[str | None, Field(max_length=200, pattern=NO_NUL)] = None


@public_router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    summary="Open an applicant account",
    responses=problem_responses(409, 422),
)
def register(
    data: UserRegister, response: Response, db: DbSession, clock: ClockDep, passwords: PasswordsDep
) -> UserPublic:
    user = user_service.register_applicant(db, data, now=clock.now(), passwords=passwords)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return UserPublic.model_validate(user)


@public_router.post(
    "/token",
    response_model=TokenPair,
    summary="Log in with email and password (OAuth2 password flow)",
    responses=problem_responses(401, 422, 429),
)
async def log_in(
    form: Annotated[LoginForm, Form()],
    request: Request,
    response: Response,
    writes: HotWrites,
    settings: SettingsDep,
    passwords: PasswordsDep,
    clock: ClockDep,
) -> TokenPair:
    _no_store(response)
    address = request.client.host if request.client else "unknown"
    # Two transactions around the password's check: the attempt counts for every process before
    # Argon2 runs, and no lock is held while it does.
    login = await writes.run(
        lambda db: auth_service.begin_login(
            db, email=form.username, client_address=address, settings=settings, now=clock.now()
        )
    )
    matched = await run_in_threadpool(
        partial(auth_service.password_matches, login, form.password, passwords=passwords)
    )
    return await writes.run(
        lambda db: auth_service.finish_login(
            db, login, password_matched=matched, settings=settings, now=clock.now()
        )
    )


@public_router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Exchange a refresh token for a new pair",
    responses=problem_responses(401, 422),
)
def refresh_tokens(
    data: RefreshIn, response: Response, db: DbSession, settings: SettingsDep, clock: ClockDep
) -> TokenPair:
    _no_store(response)
    return auth_service.refresh_tokens(
        db, refresh_token=data.refresh_token, settings=settings, now=clock.now()
    )


@public_router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End the login behind a refresh token",
    responses=problem_responses(422),
)
def log_out(data: RefreshIn, db: DbSession, clock: ClockDep) -> Response:
    auth_service.log_out(db, refresh_token=data.refresh_token, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    summary="Mint an API key for a staff script (the key is shown once)",
    description="Only with the secretariat's own login: an API key cannot mint another. The key "
    "expires at `expires_at`, in the future and a year ahead at most.",
    responses=problem_responses(401, 403, 422),
)
def create_api_key(
    data: ApiKeyCreate, response: Response, actor: SecretariatInPerson, db: DbSession, clock: ClockDep
) -> ApiKeyCreated:
    _no_store(response)
    key, secret = auth_service.create_api_key(db, actor, data, now=clock.now())
    response.headers["Location"] = f"/api/v1/auth/api-keys/{key.id}"
    return ApiKeyCreated.model_validate({**key.model_dump(), "key": secret})


@router.get(
    "/api-keys",
    response_model=ApiKeyList,
    summary="List API keys (never the keys themselves)",
    responses=problem_responses(401, 403, 422),
)
def list_api_keys(actor: Secretariat, db: DbSession, include_revoked: bool = False) -> ApiKeyList:
    keys = auth_service.list_api_keys(db, include_revoked=include_revoked)
    return ApiKeyList(items=[ApiKeyPublic.model_validate(k) for k in keys])


@router.get(
    "/api-keys/{key_id}",
    response_model=ApiKeyPublic,
    summary="Read one API key's metadata",
    responses=problem_responses(401, 403, 404, 422),
)
def get_api_key(key_id: ResourceId, actor: Secretariat, db: DbSession) -> ApiKeyPublic:
    return ApiKeyPublic.model_validate(auth_service.get_api_key(db, key_id))


@router.delete(
    "/api-keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key",
    responses=problem_responses(401, 403, 404, 422),
)
def revoke_api_key(key_id: ResourceId, actor: Secretariat, db: DbSession, clock: ClockDep) -> Response:
    auth_service.revoke_api_key(db, key_id, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
