"""Liveness and readiness, outside /api/v1, for load balancers and orchestrators."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.edge.body_limits import BoundedBodyRoute
from api.edge.problem import problem_response, problem_responses
from api.services.operations import database_answers

router = APIRouter(tags=["operations"], route_class=BoundedBodyRoute)


class Health(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"status": "ok"}]}}

    status: str


@router.get("/healthz", summary="Is the process alive", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Can the service reach its database",
    response_model=Health,
    responses=problem_responses(503),
)
def readyz(request: Request) -> Health | JSONResponse:
    if not database_answers(request.app.state.engine):
        return problem_response(
            503, "database_unavailable", "The database cannot be reached.", headers={"Retry-After": "5"}
        )
    return Health(status="ok")
