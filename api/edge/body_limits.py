"""Each route's body limit: the largest body its schema accepts, computed once when the route is built.

A route of a router built with `route_class=BoundedBodyRoute` refuses a larger body with 413 before
reading it, so a few KiB reach the login and token routes, not the megabytes the service allows an
upload. A body whose schema sets no bound (a file upload) keeps the service-wide limit,
`ATELIERS_MAX_BODY_BYTES`, which BodySizeLimitMiddleware applies to every request and so caps
every route's limit too.
"""

import json
import math
from typing import Any

from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from starlette.types import Receive, Scope, Send

from api.db.transactions import end_in_handler_thread, refuse_request_session_beside_writes
from api.edge.middleware import receive_at_most

# The most a character costs on the wire: "\ud83d\ude00" in JSON, "%F0%9F%98%80" in a form.
BYTES_PER_CHARACTER = 12
# What surrounds each value: a key's quotes, the colon, the comma, a line of indentation.
SEPARATOR_BYTES = 16
# A JSON number pydantic accepts, written out long ("-9223372036854775808", "1.0e-10").
NUMBER_BYTES = 32
# Strings without a maxLength that pydantic still parses to a bounded value.
FORMATTED_STRING_BYTES = {"date": 64, "date-time": 64, "time": 64, "duration": 64, "uuid": 64}
# What a route without a body still accepts, for clients that always send "{}".
BODYLESS_BYTES = 1024


def largest_body(schema: dict[str, Any]) -> int | None:
    """The size in bytes of the largest body valid under a JSON schema, or None when it is unbounded."""
    definitions: dict[str, Any] = schema.get("$defs", {})

    def largest(node: dict[str, Any]) -> float:
        if "$ref" in node:
            return largest(definitions[node["$ref"].rsplit("/", 1)[-1]])
        if "const" in node:
            return _largest_literal([node["const"]])
        if "enum" in node:
            return _largest_literal(node["enum"])
        for choice in ("anyOf", "oneOf"):
            if choice in node:
                return max(largest(branch) for branch in node[choice])
        if "allOf" in node:
            return min(largest(part) for part in node["allOf"])  # each part bounds the whole
        kinds = node.get("type")
        if isinstance(kinds, list):
            return max(largest({**node, "type": kind}) for kind in kinds)
        if kinds == "string":
            if "maxLength" in node:
                return node["maxLength"] * BYTES_PER_CHARACTER + 2
            return FORMATTED_STRING_BYTES.get(node.get("format", ""), math.inf)
        if kinds in ("integer", "number"):
            return NUMBER_BYTES
        if kinds in ("boolean", "null"):
            return len("false")
        if kinds == "array":
            items = node.get("maxItems", math.inf) * (largest(node.get("items", {})) + SEPARATOR_BYTES)
            fixed = sum(largest(item) + SEPARATOR_BYTES for item in node.get("prefixItems", []))
            return items + fixed + 2
        if kinds == "object":
            if "patternProperties" in node:
                return math.inf
            extra = node.get("additionalProperties")
            mapped = 0.0
            if extra not in (None, False):
                # A mapping is bounded only by a count of keys and a length of each.
                keys = node.get("maxProperties", math.inf)
                key = node.get("propertyNames", {}).get("maxLength", math.inf)
                value = largest(extra) if isinstance(extra, dict) else math.inf
                mapped = keys * (key * BYTES_PER_CHARACTER + 2 + value + SEPARATOR_BYTES)
            return (
                mapped
                + 2
                + sum(
                    len(name) * BYTES_PER_CHARACTER + 2 + largest(value) + SEPARATOR_BYTES
                    for name, value in node.get("properties", {}).items()
                )
            )
        return math.inf  # any JSON value at all

    size = largest(schema)
    return None if math.isinf(size) else int(size)


def _largest_literal(values: list[Any]) -> float:
    return max(len(json.dumps(value)) * BYTES_PER_CHARACTER for value in values)


def route_body_limit(route: APIRoute) -> int | None:
    """The largest body a route can validly receive, or None when only the service-wide limit applies."""
    if route.body_field is None:
        # A route that reads its own stream (an upload) declares its body in openapi_extra and
        # bounds it itself while it streams; only the service-wide limit applies before that.
        return None if (route.openapi_extra or {}).get("requestBody") else BODYLESS_BYTES
    schema = TypeAdapter(route.body_field.field_info.annotation or Any).json_schema()
    size = largest_body(schema)
    return None if size is None else max(size, BODYLESS_BYTES)


class BoundedBodyRoute(APIRoute):
    """A route that refuses with 413, before reading it, a body larger than its schema accepts; its
    `def` handler ends the request's transaction in its own thread (api/db/transactions.py), and a
    handler that runs its own writes may not take the request's session too."""

    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        super().__init__(path, end_in_handler_thread(endpoint), **kwargs)
        refuse_request_session_beside_writes(self.dependant, path=path)
        self.max_body_bytes = route_body_limit(self)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.max_body_bytes is None:
            await super().handle(scope, receive, send)
            return
        await receive_at_most(self.max_body_bytes, super().handle, scope, receive, send)
