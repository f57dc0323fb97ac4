"""How a render refuses a declared option it does not render yet (`check_rendered` against
the fields each service's render lists) and names a declaration in its errors
(`described`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sluiceway.core.errors import RenderError

# A render's list of the fields it turns into the template, per dataclass it reads. Any
# other field holding a value other than its default is refused: an option the AWS target
# does not render yet fails the render loudly instead of vanishing from the deployed system.
RenderedFields = Mapping[type, frozenset[str]]


def described(kind: str, name: str) -> str:
    """How an error names a declaration: ``queue 'orders'``."""
    return f"{kind} '{name}'"


def check_rendered(value: Any, where: str, fields: RenderedFields) -> None:
    """Refuse a declared option the AWS target does not render (see `RenderedFields`)."""
    rendered = fields.get(type(value))
    if rendered is None:
        raise RenderError(f"{where}: a {type(value).__name__} is not rendered for AWS yet")
    for option in dataclasses.fields(value):
        if option.name in rendered:
            continue
        current = getattr(value, option.name)
        if option.default is not dataclasses.MISSING and current == option.default:
            continue
        if (
            option.default_factory is not dataclasses.MISSING
            and current == option.default_factory()
        ):
            continue
        raise RenderError(
            f"{where}: {option.name}={current!r} is not rendered for AWS yet; leave it at its "
            "default to deploy, or render it in that service's render module"
        )
