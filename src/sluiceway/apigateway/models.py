"""Request models: the JSON Schema (draft 4) API Gateway validates a request body against.

A route's ``model=`` is a schema like API Gateway's models::

    {"type": "object",
     "required": ["id", "roll", "phone"],
     "properties": {"id": {"type": "string", "minLength": 1},
                    "phone": {"type": "string", "pattern": "^\\\\+[1-9][0-9]{1,14}$"}},
     "additionalProperties": False}

The keywords below are supported; a schema using any other is refused when the app is
declared (better than ignoring a rule the author counts on). `validate` returns every
violation, each naming where it is (``$.phone``) and what is wrong.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sluiceway.core.errors import DeclarationError

_TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")
_KEYWORDS = {
    "$schema",
    "title",
    "description",
    "type",
    "enum",
    "required",
    "properties",
    "additionalProperties",
    "minProperties",
    "maxProperties",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
}

Check = Callable[[Any, str, list[str]], None]


@dataclass(frozen=True)
class Model:
    """A compiled request model: `source` is its canonical JSON text."""

    source: str
    _check: Check

    def validate(self, value: Any) -> list[str]:
        errors: list[str] = []
        self._check(value, "$", errors)
        return errors


def compile_model(schema: Mapping[str, Any] | str, where: str) -> Model:
    """Check `schema` and compile it; a DeclarationError names the first problem."""
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError as error:
            raise DeclarationError(where, f"model is not JSON: {error}", "pass a dict") from None
    if not isinstance(schema, Mapping):
        raise DeclarationError(where, "a model is a JSON Schema object", "pass a dict")
    check = _compile(schema, "model", where)
    return Model(json.dumps(schema, sort_keys=True, separators=(",", ":")), check)


def _bad(where: str, at: str, problem: str) -> DeclarationError:
    return DeclarationError(
        where, f"{at}: {problem}", "see the supported keywords in sluiceway.apigateway.models"
    )


def _compile(schema: Mapping[str, Any], at: str, where: str) -> Check:
    unknown = sorted(set(schema) - _KEYWORDS)
    if unknown:
        raise _bad(where, at, f"unsupported keyword(s) {', '.join(unknown)}")
    checks: list[Check] = []
    if "type" in schema:
        checks.append(_type_check(schema["type"], at, where))
    if "enum" in schema:
        options = schema["enum"]
        if not isinstance(options, list) or not options:
            raise _bad(where, at, "enum is a non-empty list")
        checks.append(_enum_check(options))
    checks += _object_checks(schema, at, where)
    checks += _array_checks(schema, at, where)
    checks += _string_checks(schema, at, where)
    checks += _number_checks(schema, at, where)

    def check(value: Any, path: str, errors: list[str]) -> None:
        for one in checks:
            one(value, path, errors)

    return check


def _type_of(value: Any) -> set[str]:
    if value is None:
        return {"null"}
    if isinstance(value, bool):
        return {"boolean"}
    if isinstance(value, (int, float, Decimal)):
        integral = isinstance(value, int) or (math.isfinite(value) and value == int(value))
        return {"number", "integer"} if integral else {"number"}
    if isinstance(value, str):
        return {"string"}
    if isinstance(value, list):
        return {"array"}
    if isinstance(value, dict):
        return {"object"}
    return set()


def _type_check(wanted: Any, at: str, where: str) -> Check:
    names = [wanted] if isinstance(wanted, str) else wanted
    if not isinstance(names, list) or not names or any(n not in _TYPES for n in names):
        raise _bad(where, at, f"type is one of {', '.join(_TYPES)} (or a list of them)")
    allowed = set(names)

    def check(value: Any, path: str, errors: list[str]) -> None:
        if not _type_of(value) & allowed:
            errors.append(f"{path}: expected {' or '.join(names)}")

    return check


def _enum_check(options: list[Any]) -> Check:
    def check(value: Any, path: str, errors: list[str]) -> None:
        if not any(_same(value, option) for option in options):
            shown = ", ".join(json.dumps(o, default=str) for o in options[:10])
            errors.append(f"{path}: must be one of {shown}")

    return check


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _count(schema: Mapping[str, Any], key: str, at: str, where: str) -> int | None:
    value = schema.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(where, at, f"{key} is a whole number >= 0")
    return value


def _object_checks(schema: Mapping[str, Any], at: str, where: str) -> list[Check]:
    checks: list[Check] = []
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise _bad(where, at, "required is a list of property names")
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        raise _bad(where, at, "properties maps names to schemas")
    compiled = {
        name: _compile(_schema(sub, f"{at}.properties.{name}", where), f"{at}.{name}", where)
        for name, sub in properties.items()
    }
    extra = schema.get("additionalProperties", True)
    extra_check: Check | None = None
    if isinstance(extra, Mapping):
        extra_check = _compile(extra, f"{at}.additionalProperties", where)
    elif not isinstance(extra, bool):
        raise _bad(where, at, "additionalProperties is true, false or a schema")
    low = _count(schema, "minProperties", at, where)
    high = _count(schema, "maxProperties", at, where)

    def check(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, dict):
            return
        for name in required:
            if name not in value:
                errors.append(f"{path}.{name}: required")
        for name, item in value.items():
            sub = compiled.get(name)
            if sub is not None:
                sub(item, f"{path}.{name}", errors)
            elif extra is False:
                errors.append(f"{path}.{name}: not allowed (no such property)")
            elif extra_check is not None:
                extra_check(item, f"{path}.{name}", errors)
        if low is not None and len(value) < low:
            errors.append(f"{path}: needs at least {low} properties")
        if high is not None and len(value) > high:
            errors.append(f"{path}: allows at most {high} properties")

    if required or compiled or extra is not True or low is not None or high is not None:
        checks.append(check)
    return checks


def _schema(value: Any, at: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(where, at, "is not a schema object")
    return value


def _array_checks(schema: Mapping[str, Any], at: str, where: str) -> list[Check]:
    items = schema.get("items")
    item_check = (
        None if items is None else _compile(_schema(items, f"{at}.items", where), f"{at}[]", where)
    )
    low = _count(schema, "minItems", at, where)
    high = _count(schema, "maxItems", at, where)
    unique = schema.get("uniqueItems", False)
    if not isinstance(unique, bool):
        raise _bad(where, at, "uniqueItems is true or false")
    if item_check is None and low is None and high is None and not unique:
        return []

    def check(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, list):
            return
        if item_check is not None:
            for n, item in enumerate(value):
                item_check(item, f"{path}[{n}]", errors)
        if low is not None and len(value) < low:
            errors.append(f"{path}: needs at least {low} items")
        if high is not None and len(value) > high:
            errors.append(f"{path}: allows at most {high} items")
        if unique:
            seen = [json.dumps(v, sort_keys=True, default=str) for v in value]
            if len(set(seen)) != len(seen):
                errors.append(f"{path}: items must be unique")

    return [check]


def _string_checks(schema: Mapping[str, Any], at: str, where: str) -> list[Check]:
    low = _count(schema, "minLength", at, where)
    high = _count(schema, "maxLength", at, where)
    pattern = schema.get("pattern")
    regex = None
    if pattern is not None:
        if not isinstance(pattern, str):
            raise _bad(where, at, "pattern is a regular expression string")
        try:
            regex = re.compile(pattern)
        except re.error as error:
            raise _bad(where, at, f"pattern does not compile: {error}") from None
    if low is None and high is None and regex is None:
        return []

    def check(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, str):
            return
        if low is not None and len(value) < low:
            errors.append(f"{path}: at least {low} characters")
        if high is not None and len(value) > high:
            errors.append(f"{path}: at most {high} characters")
        if regex is not None and regex.search(value) is None:
            errors.append(f"{path}: does not match {pattern}")

    return [check]


def _number(schema: Mapping[str, Any], key: str, at: str, where: str) -> float | None:
    value = schema.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(where, at, f"{key} is a number")
    return float(value)


def _number_checks(schema: Mapping[str, Any], at: str, where: str) -> list[Check]:
    low = _number(schema, "minimum", at, where)
    high = _number(schema, "maximum", at, where)
    step = _number(schema, "multipleOf", at, where)
    if step is not None and step <= 0:
        raise _bad(where, at, "multipleOf is greater than 0")
    below = schema.get("exclusiveMinimum", False)
    above = schema.get("exclusiveMaximum", False)
    if not isinstance(below, bool) or not isinstance(above, bool):
        raise _bad(where, at, "exclusiveMinimum/exclusiveMaximum are true or false (draft 4)")
    if low is None and high is None and step is None:
        return []

    def check(value: Any, path: str, errors: list[str]) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            return
        number = float(value)
        if low is not None and (number < low or (below and number == low)):
            errors.append(f"{path}: must be {'>' if below else '>='} {low:g}")
        if high is not None and (number > high or (above and number == high)):
            errors.append(f"{path}: must be {'<' if above else '<='} {high:g}")
        if step is not None and not math.isclose(number / step, round(number / step)):
            errors.append(f"{path}: must be a multiple of {step:g}")

    return [check]
