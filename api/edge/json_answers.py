"""JSON answers rendered once: the handler's model straight to bytes.

A handler that returns its model lets FastAPI validate it again against `response_model` (for a
`def` handler, in one more thread-pool hop) before serialising it; the hot writes return these
instead, and keep `response_model` for the OpenAPI document.
"""

from fastapi import Response
from pydantic import BaseModel

JSON = "application/json"


def json_answer(model: BaseModel, *, status_code: int = 200, location: str | None = None) -> Response:
    headers = {"Location": location} if location is not None else None
    body = model.model_dump_json()
    return Response(content=body, status_code=status_code, media_type=JSON, headers=headers)
