"""Discounts: public reads of the active ones, and the secretariat's management."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from sqlmodel import Session

from api.clock import paris_today
from api.deps import ClockDep, DbSession, DiscountId, EditableDiscount, OptionalActor, Secretariat
from api.edge.body_limits import BoundedBodyRoute
from api.edge.http_cache import cache_headers, catalogue_answer, not_modified, strong_etag
from api.edge.problem import problem_responses
from api.services import discounts as discount_service
from models.discount import DiscountCreate, DiscountPage, DiscountPublic, DiscountQuery, DiscountUpdate

public_router = APIRouter(tags=["discounts"], route_class=BoundedBodyRoute)
router = APIRouter(tags=["discounts"], route_class=BoundedBodyRoute)

JSON = "application/json"
_CONDITIONAL: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the ETag in If-None-Match is current"}
}


def _answer(
    request: Request, body: bytes, *, public: bool, status_code: int = 200, location: str | None = None
) -> Response:
    """JSON with a strong ETag of its bytes; 304 when the client already holds them."""
    etag = strong_etag(body)
    headers = cache_headers(etag, public=public)
    if location is not None:
        headers["Location"] = location
    if request.method in ("GET", "HEAD") and not_modified(request, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content=body, status_code=status_code, media_type=JSON, headers=headers)


@public_router.get(
    "/discounts",
    response_model=DiscountPage,
    summary="List discounts",
    description="Public: the active discounts valid today (Europe/Paris); the secretariat sees every "
    "discount. With `session_id`, that session's discounts and those of every session; an unknown "
    "session is 422. Ordered by id.",
    responses={**_CONDITIONAL, **problem_responses(401, 422)},
)
async def list_discounts(
    request: Request,
    query: Annotated[DiscountQuery, Query()],
    actor: OptionalActor,
    clock: ClockDep,
) -> Response:
    private = actor is not None and actor.is_secretariat
    today = paris_today(clock.now())

    def render(db: Session) -> bytes:
        discounts, total = discount_service.list_discounts(
            db,
            session_id=query.session_id,
            code=query.code,
            include_inactive=private,
            today=today,
            limit=query.limit,
            offset=query.offset,
        )
        page = DiscountPage(
            items=[discount_service.to_public(d) for d in discounts],
            total=total,
            limit=query.limit,
            offset=query.offset,
        )
        return page.model_dump_json().encode()

    return await catalogue_answer(request, private=private, today=today, media_type=JSON, render=render)


@public_router.get(
    "/discounts/{discount_id}",
    response_model=DiscountPublic,
    summary="Read a discount",
    description="Public for active discounts; the secretariat also reads inactive ones.",
    responses={**_CONDITIONAL, **problem_responses(401, 404, 422)},
)
async def get_discount(
    request: Request, discount_id: DiscountId, actor: OptionalActor, clock: ClockDep
) -> Response:
    private = actor is not None and actor.is_secretariat
    today = paris_today(clock.now())

    def render(db: Session) -> bytes:
        discount = discount_service.find_discount(db, discount_id, include_inactive=private)
        return discount_service.to_public(discount).model_dump_json().encode()

    return await catalogue_answer(request, private=private, today=today, media_type=JSON, render=render)


@router.post(
    "/discounts",
    status_code=status.HTTP_201_CREATED,
    response_model=DiscountPublic,
    summary="Create a discount",
    description="A percent (a decimal string, above 0 and at most 100) or a fixed amount in cents, "
    "never both. The code is stored upper case and must be unused (409 `discount_code_taken`); "
    "an unknown `session_id` is 422.",
    responses=problem_responses(401, 403, 409, 422),
)
def create_discount(
    request: Request, data: DiscountCreate, actor: Secretariat, db: DbSession, clock: ClockDep
) -> Response:
    discount = discount_service.create_discount(db, data, now=clock.now())
    body = discount_service.to_public(discount).model_dump_json().encode()
    return _answer(
        request,
        body,
        public=False,
        status_code=status.HTTP_201_CREATED,
        location=f"/api/v1/discounts/{discount.id}",
    )


@router.patch(
    "/discounts/{discount_id}",
    response_model=DiscountPublic,
    summary="Change a discount",
    description="To switch between a percent and an amount, give the new one and set the other to null.",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def update_discount(
    request: Request, data: DiscountUpdate, discount: EditableDiscount, db: DbSession, clock: ClockDep
) -> Response:
    discount = discount_service.update_discount(db, discount, data, now=clock.now())
    return _answer(request, discount_service.to_public(discount).model_dump_json().encode(), public=False)


@router.delete(
    "/discounts/{discount_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Deactivate a discount",
    description="A discount is never deleted, since applications and quotes may name it: it is deactivated.",
    responses=problem_responses(401, 403, 404, 422),
)
def delete_discount(discount: EditableDiscount, db: DbSession, clock: ClockDep) -> Response:
    discount_service.deactivate_discount(db, discount, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
