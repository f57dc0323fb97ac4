"""Reading resolved property values as CloudFormation does: numbers and booleans may come
as strings (``"30"``, ``"true"``), and a wrong shape names the property."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sluiceway.templates.errors import TemplateError


def integer(where: str, value: Any, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(str(value))
    except ValueError:
        raise TemplateError(where, f"{value!r} is not an integer", "give a whole number") from None


def optional_integer(where: str, value: Any) -> int | None:
    return None if value is None else integer(where, value)


def boolean(where: str, value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise TemplateError(where, f"{value!r} is not a boolean", "use true or false")


def mapping(where: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TemplateError(where, f"{value!r} is not a mapping", "give key: value pairs")
    return dict(value)


def listing(where: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TemplateError(where, f"{value!r} is not a list", "give a list")
    return value


def text(where: str, value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise TemplateError(where, f"{value!r} is not a string", "give a string")
    return str(value)


def ignored(keys: Iterable[str], props: Mapping[str, Any]) -> list[str]:
    """Which of `keys` the resource sets (reported once as not emulated)."""
    return [key for key in keys if props.get(key) is not None]
