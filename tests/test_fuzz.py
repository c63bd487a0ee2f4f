"""Generated requests from the OpenAPI spec, as the secretariat, to `ateliers serve` over a real
socket: never a 500, always the declared status codes, content types and response schemas."""

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Logging out or deactivating the caller would only turn the rest of the run into 401s.
SKIPPED = {
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/refresh"),
    ("PATCH", "/api/v1/users/{user_id}"),
}


def test_generated_requests_never_break_the_contract(live_server, secretariat) -> None:
    # The live server, not the ASGI app: schemathesis's ASGI client would start a lifespan of its own.
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
    authorization = {"Authorization": secretariat.headers["Authorization"]}
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def exercise(case) -> None:
            response = case.call(base_url=live_server.url, headers=authorization)
            case.validate_response(response, checks=CHECKS)

        exercise()
        tested += 1
    assert tested >= 20
