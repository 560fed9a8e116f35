"""Reading an admin request's input: the JSON body and the query parameters, each checked against
the JSON Schema the OpenAPI document declares, so a bad value is a 400 naming the field, never a 500."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from starlette.requests import Request

from gateway.errors import InvalidInput
from gateway.web.json_depth import MAX_JSON_DEPTH, nested_deeper
from gateway.web.json_schema import Schema
from gateway.web.openapi import Param
from gateway.web.rest_admin_spec import AFTER

MAX_BODY = 1_000_000


@cache
def _validator(key: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(key))


def _check(value: Any, schema: Schema, *, where: str) -> None:
    validator = _validator(json.dumps(schema, sort_keys=True))
    error = _first(validator.iter_errors(value))
    if error is None:
        return
    path = [str(p) for p in error.absolute_path]
    field = ".".join([where, *path]) if where else ".".join(path)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        name = extra[0] if extra else "?"
        field = ".".join([*([field] if field else []), name])
        raise InvalidInput(f"unknown field {name!r}", field=field)
    if error.validator == "required":
        missing = [n for n in error.validator_value if n not in error.instance]
        name = missing[0] if missing else "?"
        field = ".".join([*([field] if field else []), name])
        raise InvalidInput(f"{name} is required", field=field)
    raise InvalidInput(f"{field or 'body'}: {_short(error)}", field=field or "body")


def _first(errors: Any) -> ValidationError | None:
    # The deepest error of the first failing branch names the field best ("fields.0.direction").
    # A nullable value's `null` branch never explains anything ("'x' is not of type 'null'"); when
    # no branch gets deeper than the value itself, the alternatives' description says what fits.
    found: ValidationError | None = next(iter(errors), None)
    while found is not None and found.context:
        branches = [e for e in found.context if e.schema != {"type": "null"}] or list(found.context)
        deepest = min(branches, key=lambda e: (-len(e.absolute_path), str(e.message)))
        if (
            len(deepest.absolute_path) == len(found.absolute_path)
            and len({id(e.schema) for e in branches}) > 1
            and isinstance(found.schema, dict)
            and "description" in found.schema
        ):
            found.message = f"must be {found.schema['description']}"
            return found
        found = deepest
    return found


_TYPES = {
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "object": "an object",
    "array": "an array",
    "null": "null",
}


def _json(value: Any) -> str:
    """The value as the client wrote it (null, true, "x"), not as Python shows it (None, True, 'x')."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _short(error: ValidationError) -> str:
    """jsonschema's message in the client's terms for the common cases ("null is not true or
    false", not "None is not of type 'boolean'"); the others as jsonschema words them."""
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "type":
        wanted = value if isinstance(value, list) else [value]
        message = f"{_json(instance)} is not {' or '.join(_TYPES.get(str(t), str(t)) for t in wanted)}"
    elif kind == "enum":
        message = f"{_json(instance)} is not one of {', '.join(str(v) for v in value)}"
    elif kind == "minLength" and value == 1:
        message = "must not be empty"
    elif kind == "minItems":
        message = f"needs at least {value} item{'s' if value != 1 else ''}"
    elif kind == "maxItems":
        message = f"takes at most {value} items, not {len(instance)}"
    elif kind == "uniqueItems":
        message = "has the same item twice"
    elif kind == "pattern" and value == AFTER["pattern"]:
        message = f"{_json(instance)} is not a cursor this API gave out (the endCursor of a page)"
    else:
        message = str(error.message)
    return message if len(message) <= 200 else message[:197] + "..."


async def read_body(request: Request, schema: Schema, *, optional: bool = False) -> dict[str, Any]:
    """The JSON object in the body, valid against `schema`; `{}` for an empty body when optional."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise InvalidInput("the body is too large", field="body")
    if not raw.strip():
        if optional:
            return {}
        raise InvalidInput("a JSON body is required", field="body")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidInput("the body is not valid JSON", field="body") from None
    if nested_deeper(value, MAX_JSON_DEPTH):  # jsonschema and the 400's quote recurse per level
        raise InvalidInput(f"the body nests arrays or objects more than {MAX_JSON_DEPTH} deep", field="body")
    _check(value, schema, where="")
    assert isinstance(value, dict)  # the schemas are objects
    return value


def read_query(request: Request, params: Sequence[Param]) -> dict[str, Any]:
    """The declared query parameters, typed (integers, booleans) and checked; unknown ones are a 400."""
    declared = {p.name: p for p in params if p.location == "query"}
    unknown = sorted(set(request.query_params) - set(declared))
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]!r}", field=unknown[0])
    values: dict[str, Any] = {}
    for name, param in declared.items():
        raw_values = request.query_params.getlist(name)
        if not raw_values:
            continue
        if len(raw_values) > 1:
            raise InvalidInput(f"{name} may be given once", field=name)
        values[name] = _typed(raw_values[0], param)
        _check(values[name], param.schema, where=name)
    return values


def _typed(raw: str, param: Param) -> Any:
    kind = param.schema.get("type")
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise InvalidInput(f"{param.name} must be an integer", field=param.name) from None
    if kind == "boolean":
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise InvalidInput(f"{param.name} must be true or false", field=param.name)
    return raw


def path_int(request: Request, name: str) -> int:
    raw = request.path_params[name]
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be an integer", field=name) from None
    if not 1 <= value <= 2**53:
        raise InvalidInput(f"{name} must be a positive integer", field=name)
    return value
