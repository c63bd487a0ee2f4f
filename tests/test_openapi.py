"""The committed contract is what the code serves, and it is good enough to generate a client from."""

import json
import re
from pathlib import Path

from api.main import create_app
from tests.conftest import AppClient

SPEC = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
METHODS = {"get", "post", "put", "patch", "delete"}


def _served(app) -> dict:
    with AppClient(app, base_url="http://testserver") as client:
        answer = client.get("/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def test_committed_spec_equals_the_served_one(app) -> None:
    committed = json.loads(SPEC.read_text(encoding="utf-8"))
    assert committed == _served(app), "openapi/openapi.json drifted: run `make openapi`"


def test_spec_does_not_depend_on_settings(settings) -> None:
    assert create_app(settings).openapi() == json.loads(SPEC.read_text(encoding="utf-8"))


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_every_operation_is_named_summarised_tagged_and_declares_problems(app) -> None:
    spec = _served(app)
    ids = []
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        assert re.fullmatch(r"[a-z][a-z_]+", operation["operationId"]), where
        ids.append(operation["operationId"])
        assert operation.get("summary"), where
        assert operation.get("tags"), where
        errors = {code: r for code, r in operation["responses"].items() if code[0] in "45"}
        assert "500" in errors, where
        for code, response in errors.items():
            assert list(response["content"]) == ["application/problem+json"], f"{where} {code}"
    assert len(ids) == len(set(ids)), "operationIds are unique"


def test_problem_schema_has_the_contract_fields(app) -> None:
    problem = _served(app)["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])


def _strings_without_max_length(schema: dict, spec: dict, where: str, seen: set[str]) -> list[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return _strings_without_max_length(spec["components"]["schemas"][name], spec, name, seen)
    missing = []
    bounded = "maxLength" in schema or "enum" in schema or "const" in schema
    dated = schema.get("format") in {"date", "date-time", "time"}
    if schema.get("type") == "string" and not bounded and not dated:
        missing.append(where)
    for key in ("anyOf", "oneOf", "allOf"):
        for index, sub in enumerate(schema.get(key, [])):
            missing += _strings_without_max_length(sub, spec, f"{where}[{index}]", seen)
    for name, sub in schema.get("properties", {}).items():
        missing += _strings_without_max_length(sub, spec, f"{where}.{name}", seen)
    if "items" in schema:
        missing += _strings_without_max_length(schema["items"], spec, f"{where}[]", seen)
    return missing


def test_every_request_string_has_a_maximum_length(app) -> None:
    spec = _served(app)
    missing: list[str] = []
    for path, method, operation in _operations(spec):
        for parameter in operation.get("parameters", []):
            missing += _strings_without_max_length(
                parameter["schema"], spec, f"{method} {path} {parameter['name']}", set()
            )
        for media in operation.get("requestBody", {}).get("content", {}).values():
            missing += _strings_without_max_length(media["schema"], spec, f"{method} {path} body", set())
    assert missing == []


def test_request_bodies_carry_examples(app) -> None:
    spec = _served(app)
    schemas = spec["components"]["schemas"]
    for name in (
        "UserRegister",
        "UserCreate",
        "TrainingSessionCreate",
        "TrainingSessionUpdate",
        "ApiKeyCreate",
    ):
        assert schemas[name].get("examples"), name


def _has_examples(schema: dict, spec: dict) -> bool:
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return bool(schema.get("examples")) or any(_has_examples(s, spec) for s in schema.get("anyOf", []))


def test_every_operation_shows_an_example(app) -> None:
    spec = _served(app)
    without = []
    for path, method, operation in _operations(spec):
        bodies = [m["schema"] for m in operation.get("requestBody", {}).get("content", {}).values()]
        media = [
            media
            for code, response in operation["responses"].items()
            if code.startswith("2")
            for media in response.get("content", {}).values()
        ]
        answers = [m["schema"] for m in media if "schema" in m]
        shown = any("example" in m or "examples" in m for m in media)
        parameters = [p for p in operation.get("parameters", []) if p["schema"].get("examples")]
        if not (shown or parameters or any(_has_examples(s, spec) for s in bodies + answers)):
            without.append(f"{method.upper()} {path}")
    assert without == []
