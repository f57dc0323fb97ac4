"""API Gateway's mapping templates: the Velocity (VTL) request and response templates of a REST
API's AWS service integrations, evaluated with airspeed, the Velocity engine written for AWS's
templates, with the variables API Gateway gives them: `$input`, `$context`, `$stageVariables`
and `$util`.

https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import airspeed

from sluiceway.apigateway.mapping_util import (
    MISSING,
    HeaderMap,
    VelocityUtil,
    VtlMap,
    compact_json,
    select,
    to_vtl,
)
from sluiceway.core.errors import SluicewayError

# The Content-Type API Gateway assumes when a request has none.
DEFAULT_CONTENT_TYPE = "application/json"

# The integration's PassthroughBehavior values.
PassthroughBehavior = Literal["WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER"]


@dataclass(frozen=True)
class MappingRequest:
    """What a mapping template sees of the incoming request."""

    body: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    path: Mapping[str, str]
    # $context: requestId, httpMethod, resourcePath, stage, identity{sourceIp, ...},
    # authorizer{claims{...}, scope}, ...
    context: Mapping[str, Any]
    stage_variables: Mapping[str, str] = field(default_factory=dict)


class MappingTemplateError(SluicewayError):
    """A mapping template that does not parse or fails to evaluate. API Gateway answers such a
    request 500 Internal server error."""

    code = "InternalServerErrorException"

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


def render(template: str, request: MappingRequest, *, name: str = "request template") -> str:
    """Evaluate `template` as API Gateway does for a request template. Parsed templates are
    cached (functools.lru_cache on the source)."""
    return _render(template, request.body, request, name)


def render_response(
    template: str, body: str, request: MappingRequest, *, name: str = "response template"
) -> str:
    """The integration response template: $input refers to the integration's response body
    (e.g. SQS's SendMessage JSON answer or DynamoDB's Query answer), $context still the
    request's."""
    return _render(template, body, request, name)


def select_template(
    templates: Mapping[str, str], content_type: str | None, passthrough: str
) -> str | Literal["unsupported"] | None:
    """API Gateway's choice of a request template by the request's Content-Type (its media
    type, without parameters such as charset; application/json when there is none) and the
    integration's PassthroughBehavior. None means: pass the body through unchanged;
    "unsupported" means: answer 415 Unsupported Media Type.

    WHEN_NO_MATCH passes the body through when no template matches; WHEN_NO_TEMPLATES only when
    the integration has no templates at all; NEVER never does.
    https://docs.aws.amazon.com/apigateway/latest/developerguide/integration-passthrough-behaviors.html
    """
    wanted = _media_type(content_type or DEFAULT_CONTENT_TYPE)
    for media_type, template in templates.items():
        if _media_type(media_type) == wanted:
            return template
    if passthrough == "WHEN_NO_MATCH" or (passthrough == "WHEN_NO_TEMPLATES" and not templates):
        return None
    return "unsupported"


def _media_type(content_type: str) -> str:
    """`type/subtype` of a Content-Type, lowercased (media types are case-insensitive)."""
    return content_type.split(";", 1)[0].strip().lower()


# -- evaluation --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> Any:
    """The parsed template (airspeed's Template, compiled once; merging does not change it)."""
    template = airspeed.Template(source, filename="mapping template")
    template.ensure_compiled()
    return template


def _render(source: str, body: str, request: MappingRequest, name: str) -> str:
    try:
        template = _compiled(source)
    except airspeed.TemplateSyntaxError as error:
        raise MappingTemplateError(name, f"does not parse: {error}") from error
    try:
        return str(template.merge(_namespace(body, request)))
    except airspeed.TemplateExecutionError as error:
        raise MappingTemplateError(name, f"failed to evaluate: {_reason(error)}") from error


def _reason(error: Any) -> str:
    """airspeed's TemplateExecutionError told without its file name: the innermost expression
    that failed (its first 120 characters) and why."""
    expression = error.element.my_text().strip()[:120]
    cause = error.__cause__
    return f"{expression!r}: {type(cause).__name__}: {cause}"


def _namespace(body: str, request: MappingRequest) -> dict[str, Any]:
    return {
        "input": VelocityInput(body, request),
        "context": _context(request.context),
        "stageVariables": VtlMap(request.stage_variables),
        "util": VelocityUtil(),
    }


def _context(context: Mapping[str, Any]) -> VtlMap:
    """A fresh copy of the request's $context, with the override maps a template may #set
    ($context.requestOverride.header.X = ...) so that assigning to them does not fail."""
    variables: VtlMap = to_vtl(context)
    overrides = {
        "requestOverride": ("header", "querystring", "path"),
        "responseOverride": ("header",),
    }
    for override, parts in overrides.items():
        found = variables.setdefault(override, VtlMap())
        for part in parts:
            found.setdefault(part, VtlMap())
    return variables


class VelocityInput:
    """`$input`: the body (`body`, `json(path)`, `path(path)`) and the request's parameters."""

    def __init__(self, body: str, request: MappingRequest) -> None:
        # API Gateway shows an empty body to a template as an empty JSON object.
        self.body = body or "{}"
        self._params = VtlMap(
            path=VtlMap(request.path),
            querystring=VtlMap(request.query),
            header=HeaderMap(request.headers),
        )

    @functools.cached_property
    def _document(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return MISSING

    def json(self, path: str = "$") -> str:
        """The JSON text at `path` (`""` where the body has nothing there)."""
        value = select(self._document, path)
        return compact_json("" if value is MISSING else value)

    def path(self, path: str = "$") -> Any:
        """The value at `path`: a map or list a template can walk, a string, number or None."""
        value = select(self._document, path)
        return None if value is MISSING else to_vtl(value)

    def params(self, name: str | None = None) -> Any:
        """All parameters (path, querystring, header), or the one named: looked for in the
        path, then the query string, then the headers; "" when none has it."""
        if name is None:
            return self._params
        for part in ("path", "querystring", "header"):
            found = self._params[part].get(name)
            if found is not None:
                return found
        return ""
