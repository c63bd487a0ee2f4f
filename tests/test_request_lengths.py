"""Every string a request may carry fits the column it is stored in, after what validation makes of it.

The walk starts from the bodies the app's routes accept, so a new route, model or field is checked
without being listed here. Each string is stored in the column of the same name in its model's
table (a nested `billing.name` in `billing_name`), or where STORED_ELSEWHERE says, or nowhere
(NEVER_STORED); one that is in none of them fails, so that nothing slips through. Query parameters
are stored nowhere; uploads are read by their own service, which bounds the file name it keeps.
"""

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import AnyUrl, AwareDatetime, BaseModel, EmailStr, TypeAdapter, ValidationError
from sqlalchemy import JSON, Text
from sqlmodel import SQLModel

import models  # noqa: F401  (every table in the metadata)
from api.main import create_app
from tests.factories import api_routes

# Request model -> the table whose columns of the same names keep its fields.
STORED_BY_NAME: dict[str, str] = {
    "UserRegister": "user_account",
    "UserCreate": "user_account",
    "UserUpdate": "user_account",
    "ApiKeyCreate": "api_key",
    "TrainingSessionCreate": "training_session",
    "TrainingSessionUpdate": "training_session",
    "ApplicationCreate": "application",
    "PaperApplicationCreate": "application",
    "ApplicationUpdate": "application",
    "DiscountCreate": "discount",
    "DiscountUpdate": "discount",
    "QuoteUpdate": "quote",
    "DeliverableCreate": "deliverable",
    "EvaluationCreate": "evaluation",
    "EvaluationUpdate": "evaluation",
    "FeedbackCreate": "feedback",
}

# Request fields kept under another name: "table.column".
STORED_ELSEWHERE: dict[str, str] = {
    "QuoteUpdate.billed_to.name": "quote.billed_name",
    "QuoteUpdate.billed_to.organisation": "quote.billed_organisation",
    "QuoteUpdate.billed_to.address": "quote.billed_address",
    "QuoteUpdate.billed_to.email": "quote.billed_email",
    "DecisionIn.note": "application.decision_note",
    "DiscountDecisionIn.note": "application_event.note",
    # Every login attempt is recorded under its email, lowered and checked again by the service.
    "LoginForm.username": "login_attempt.email",
}

# Request fields no column keeps, and why.
NEVER_STORED: dict[str, str] = {
    "UserRegister.password": "hashed",
    "UserCreate.password": "hashed",
    "LoginForm.password": "checked against the hash",
    "LoginForm.grant_type": "only ever 'password'",
    "LoginForm.scope": "the OAuth2 form's, unused",
    "LoginForm.client_id": "the OAuth2 form's, unused",
    "LoginForm.client_secret": "the OAuth2 form's, unused",
    "RefreshIn.refresh_token": "looked up by its hash",
}

# Characters that some normalisation lengthens: upper case, lower case, NFC and NFKC, URL quoting.
GROWING = ["a", "0", "A", "ß", "İ", "ﬃ", "\u0958", "é", " "]


@dataclass(frozen=True)
class RequestString:
    """A string somewhere in a request body, and the type that validates it there."""

    path: str
    annotation: Any


def _unannotated(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    base = _unannotated(annotation)
    return isinstance(base, type) and issubclass(base, BaseModel)


def _is_text(annotation: Any) -> bool:
    """Free text: a str, an email or a URL; not an enum nor a literal, whose values are fixed."""
    base = _unannotated(annotation)
    if base is EmailStr or (isinstance(base, type) and issubclass(base, AnyUrl)):
        return True
    return base is str


def _field_annotation(field: Any) -> Any:
    return Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation


def request_strings(annotation: Any, path: str = "") -> Iterator[RequestString]:
    """Every free-text value a body of this type may hold, named by model and field path."""
    base = _unannotated(annotation)
    if _is_model(base):
        prefix = path or base.__name__
        for name, field in base.model_fields.items():
            yield from request_strings(_field_annotation(field), f"{prefix}.{name}")
        return
    origin = get_origin(base)
    arguments = [argument for argument in get_args(base) if argument is not type(None)]
    if origin in (Union, types.UnionType):
        if any(_is_text(argument) for argument in arguments):
            yield RequestString(path, annotation)
        for argument in arguments:
            if not _is_text(argument):
                yield from request_strings(argument, path)
    elif origin is list:
        yield from request_strings(arguments[0], f"{path}[]")
    elif origin is dict:
        yield from request_strings(arguments[0], f"{path}{{key}}")
        yield from request_strings(arguments[1], f"{path}{{}}")
    elif _is_text(base):
        yield RequestString(path, annotation)
    else:
        assert base in (int, bool, float) or origin is typing.Literal or _is_scalar(base), (path, base)


def _is_scalar(base: Any) -> bool:
    return base is AwareDatetime or (isinstance(base, type) and issubclass(base, (Enum, date, time, Decimal)))


def _request_bodies() -> list[Any]:
    app = create_app()
    return [route.body_field.field_info.annotation for route in api_routes(app.routes) if route.body_field]


STRINGS: dict[str, RequestString] = {
    found.path: found for body in _request_bodies() for found in request_strings(body)
}


def _longest(schema: dict[str, Any], definitions: dict[str, Any]) -> int | None:
    """The most characters a JSON schema of strings allows; None when it sets no bound."""
    if "$ref" in schema:
        return _longest(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions)
    if "const" in schema or "enum" in schema:
        values = [schema["const"]] if "const" in schema else schema["enum"]
        return max(len(value) if isinstance(value, str) else 0 for value in values)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        lengths = [_longest(branch, definitions) for branch in branches]
        return None if None in lengths else max(length or 0 for length in lengths)
    if schema.get("type") == "string":
        return schema.get("maxLength")
    return 0  # an integer, a boolean, null: no characters


def schema_max_length(found: RequestString) -> int | None:
    schema = TypeAdapter(found.annotation).json_schema()
    return _longest(schema, schema.get("$defs", {}))


def _column(path: str) -> Any:
    if path in STORED_ELSEWHERE:
        table, name = STORED_ELSEWHERE[path].split(".")
        return SQLModel.metadata.tables[table].c[name]
    model, *parts = path.split(".")
    if model not in STORED_BY_NAME:
        return None
    columns = SQLModel.metadata.tables[STORED_BY_NAME[model]].c
    first = parts[0].split("[")[0].split("{")[0]
    if first in columns and isinstance(columns[first].type, JSON):
        return columns[first]  # a JSON column keeps whatever its field nests
    name = "_".join(parts)
    return columns.get(name)


def _probes(found: RequestString, length: int) -> Iterator[str]:
    """The longest values the field's schema allows, made of characters that normalising may lengthen."""
    schema = TypeAdapter(found.annotation).json_schema()
    formats = {schema.get("format")} | {branch.get("format") for branch in schema.get("anyOf", [])}
    if "email" in formats:
        local = "a" * 64
        domain = ".".join(["b" * 60] * 3) + ".org"
        yield f"{local}@{domain}"[:length]
        yield "İ" * 20 + "@ÉXAMPLE.ORG"
        return
    if "uri" in formats:
        for character in GROWING:
            yield "http://a.example/" + character * (length - 17)
        yield "http://a.example/" + "é" * (length // 6)
        return
    for character in GROWING:
        yield character * length
    yield " " + "a" * (length - 2) + " "


def _stored_length(found: RequestString, value: str) -> int | None:
    try:
        validated = TypeAdapter(found.annotation).validate_python(value)
    except ValidationError:
        return None
    return len(str(validated))


def test_the_walk_finds_the_request_strings_it_should() -> None:
    # A walk that found nothing would pass everything: it must see the known fields.
    expected = {
        "ApiKeyCreate.name",
        "TrainingSessionUpdate.city",
        "ApplicationCreate.billing.name",
        "QuoteUpdate.billed_to.email",
        "QuoteUpdate.notes[]",
        "FeedbackCreate.answers{key}",
        "FeedbackCreate.answers{}",
        "EvaluationCreate.criteria[].name",
        "DeliverableCreate.url",
        "LoginForm.username",
    }
    assert expected - STRINGS.keys() == set(), sorted(STRINGS)


def test_the_mappings_name_only_request_fields_that_exist() -> None:
    stale = sorted((STORED_ELSEWHERE.keys() | NEVER_STORED.keys()) - STRINGS.keys())
    assert stale == []
    assert sorted(STORED_BY_NAME.keys() - {path.split(".")[0] for path in STRINGS}) == []


@pytest.mark.parametrize("path", sorted(STRINGS))
def test_every_request_string_fits_the_column_it_is_stored_in(path: str) -> None:
    found = STRINGS[path]
    longest = schema_max_length(found)
    assert longest is not None, f"{path} has no maxLength"
    if path in NEVER_STORED:
        return
    column = _column(path)
    assert column is not None, (
        f"{path} is stored in no column of that name: map it in STORED_ELSEWHERE or NEVER_STORED"
    )
    if isinstance(column.type, JSON):
        return  # its lists and mappings are bounded: test_every_list_and_mapping_is_bounded_...
    length = getattr(column.type, "length", None)
    if length is None:
        assert isinstance(column.type, Text), (path, column.type)
        return  # TEXT: the schema's bound is the only one
    assert longest <= length, f"{path}: maxLength {longest} > {length}, the length of {column}"
    stored = [(value[-3:], _stored_length(found, value)) for value in _probes(found, longest)]
    accepted = [(tail, size) for tail, size in stored if size is not None]
    assert accepted, f"{path}: no probe is valid; add one that its pattern accepts"
    assert max(size for _, size in accepted) <= length, (
        f"{path}: validation lengthens a value past the {length} characters of {column}: {accepted}"
    )


def _unbounded(schema: dict[str, Any], where: str, definitions: dict[str, Any]) -> Iterator[str]:
    if "$ref" in schema:
        yield from _unbounded(definitions[schema["$ref"].rsplit("/", 1)[-1]], where, definitions)
        return
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _unbounded(branch, where, definitions)
    kind = schema.get("type")
    if kind == "array":
        if "maxItems" not in schema:
            yield f"{where}: a list without maxItems"
        yield from _unbounded(schema.get("items", {}), f"{where}[]", definitions)
    elif kind == "object":
        for name, value in schema.get("properties", {}).items():
            yield from _unbounded(value, f"{where}.{name}", definitions)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            if "maxProperties" not in schema:
                yield f"{where}: a mapping without maxProperties"
            if "maxLength" not in schema.get("propertyNames", {}):
                yield f"{where}: a mapping whose keys have no maxLength"
            yield from _unbounded(extra, f"{where}{{}}", definitions)
    elif kind == "string" and not {"maxLength", "enum", "const"} & schema.keys() and not _is_dated(schema):
        yield f"{where}: a string without maxLength"


def _is_dated(schema: dict[str, Any]) -> bool:
    return schema.get("format") in ("date", "date-time", "time")


def test_every_list_and_mapping_is_bounded_in_count_and_item_length() -> None:
    problems = []
    for body in _request_bodies():
        schema = TypeAdapter(body).json_schema()
        problems += list(_unbounded(schema, str(body), schema.get("$defs", {})))
    assert problems == []
