"""One template import: the resources, their names, resolved properties and declared handles.

`Build` is what every resource importer (``templates/<service>.py``) works with: it resolves a
resource's properties on demand (so order follows references, not the file), names each
resource as CloudFormation would but stably (``<stack>-<LogicalId>`` where the template gives
no name: data outlives a restart), remembers which logical id a resolved value (an ARN, a URL,
a name) came from, and collects what is printed at start.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sluiceway.app import App
from sluiceway.core import naming
from sluiceway.templates import values
from sluiceway.templates.errors import TemplateError
from sluiceway.templates.intrinsics import Pseudo, Resolver
from sluiceway.templates.sam import PLACEHOLDER_BUCKET

# The property holding a type's physical name, and the longest name AWS allows.
NAME_PROPERTY: dict[str, tuple[str, int]] = {
    "AWS::SQS::Queue": ("QueueName", 80),
    "AWS::DynamoDB::Table": ("TableName", 255),
    "AWS::SNS::Topic": ("TopicName", 256),
    "AWS::Lambda::Function": ("FunctionName", 64),
    "AWS::IAM::Role": ("RoleName", 64),
    "AWS::Pipes::Pipe": ("Name", 64),
    "AWS::ApiGateway::RestApi": ("Name", 1024),
    "AWS::ApiGatewayV2::Api": ("Name", 128),
    "AWS::ApiGateway::Stage": ("StageName", 128),
    "AWS::ApiGatewayV2::Stage": ("StageName", 128),
    "AWS::Cognito::UserPool": ("UserPoolName", 128),
    "AWS::Cognito::UserPoolClient": ("ClientName", 128),
    "AWS::Cognito::UserPoolDomain": ("Domain", 63),
    "AWS::Cognito::UserPoolResourceServer": ("Identifier", 256),
    "AWS::WAFv2::WebACL": ("Name", 128),
    "AWS::WAFv2::IPSet": ("Name", 128),
    "AWS::IoT::TopicRule": ("RuleName", 128),
    "AWS::Logs::LogGroup": ("LogGroupName", 512),
    "AWS::Lambda::CapacityProvider": ("CapacityProviderName", 140),
}


Trigger = Callable[[str, dict[str, Any], Any], None]


@dataclass
class Build:
    app: App
    template: dict[str, Any]
    parameters: Mapping[str, Any]
    pseudo: Pseudo
    local_paths: Mapping[str, Path]
    folder: Path
    notes: list[str] = field(default_factory=list)
    handles: dict[str, Any] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)  # ApiKey logical id -> value
    # Each function's triggers, by logical id: (what, declare(name, options, handler)).
    triggers: dict[str, list[tuple[str, Trigger]]] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)
    _naming: set[str] = field(default_factory=set)
    _props: dict[str, dict[str, Any]] = field(default_factory=dict)
    _origins: dict[str, str] = field(default_factory=dict)
    resolver: Resolver = field(init=False)

    def __post_init__(self) -> None:
        self.region = naming.Region(self.pseudo.region, self.pseudo.account_id)
        self.resolver = Resolver(self.template, self.parameters, self.pseudo, self._ref, self._att)

    # -- the resources --------------------------------------------------------------------

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]  # type: ignore[no-any-return]

    def included(self) -> Iterator[tuple[str, str]]:
        """(logical id, type) of each resource whose Condition holds."""
        for logical, resource in self.resources.items():
            if self.resolver.resource_included(logical):
                yield logical, str(resource.get("Type"))

    def of_type(self, *types: str) -> list[str]:
        return [logical for logical, kind in self.included() if kind in types]

    def type_of(self, logical: str) -> str:
        return str(self.resources[logical].get("Type"))

    def where(self, logical: str, prop: str | None = None) -> str:
        base = f"resource '{logical}' ({self.type_of(logical)})"
        return base if prop is None else f"{base} property {prop}"

    def props(self, logical: str) -> dict[str, Any]:
        """The resource's Properties with every intrinsic resolved (once)."""
        found = self._props.get(logical)
        if found is None:
            raw = self.resources[logical].get("Properties", {}) or {}
            if not isinstance(raw, dict):
                raise TemplateError(self.where(logical), "Properties is not a mapping", "fix it")
            found = self.resolver.resolve(raw, self.where(logical))
            assert isinstance(found, dict)
            self._props[logical] = found
        return found

    def raw_props(self, logical: str) -> dict[str, Any]:
        raw = self.resources[logical].get("Properties", {}) or {}
        return raw if isinstance(raw, dict) else {}

    # -- names and values -----------------------------------------------------------------

    def name(self, logical: str) -> str:
        """The resource's physical name: its name property, else ``<stack>-<LogicalId>``."""
        found = self._names.get(logical)
        if found is not None:
            return found
        if logical in self._naming:
            raise TemplateError(
                self.where(logical), "its name refers to itself", "give it a literal name"
            )
        self._naming.add(logical)
        kind = self.type_of(logical)
        key, limit = NAME_PROPERTY.get(kind, ("", 255))
        raw = self.raw_props(logical).get(key) if key else None
        if raw is not None:
            name = self.resolver.resolve(raw, self.where(logical, key))
            if not isinstance(name, str):
                raise TemplateError(self.where(logical, key), f"is {name!r}", "give a string")
        else:
            name = self._generated(logical, kind, limit)
        self._names[logical] = name
        return name

    def _generated(self, logical: str, kind: str, limit: int) -> str:
        stack = re.sub(r"[^A-Za-z0-9-]", "-", self.pseudo.stack_name)
        fifo = kind == "AWS::SQS::Queue" and self._truthy(self.raw_props(logical).get("FifoQueue"))
        suffix = ".fifo" if fifo else ""
        if kind == "AWS::IoT::TopicRule":  # a rule's name has letters, digits and '_' only
            return re.sub(r"[^A-Za-z0-9_]", "_", f"{stack}_{logical}")[:limit]
        return f"{stack}-{logical}"[: limit - len(suffix)] + suffix

    def _truthy(self, value: Any) -> bool:
        resolved = self.resolver.resolve(value, "") if value is not None else False
        return resolved is True or str(resolved).lower() == "true"

    def physical(self, logical: str) -> values.Physical:
        kind = self.type_of(logical)
        scope = "REGIONAL"
        if kind in ("AWS::WAFv2::WebACL", "AWS::WAFv2::IPSet"):
            raw = self.raw_props(logical).get("Scope", scope)
            scope = str(self.resolver.resolve(raw, self.where(logical, "Scope"))).upper()
        return values.Physical(kind, logical, self.name(logical), scope, self.app.name)

    def _ref(self, logical: str) -> Any:
        value = values.ref(self.region, self.physical(logical))
        self._origins.setdefault(value, logical)
        return value

    def _att(self, logical: str, attribute: str) -> Any:
        value = values.attribute(self.region, self.physical(logical), attribute)
        if value is None:
            raise TemplateError(
                f"Fn::GetAtt {logical}.{attribute}",
                f"{self.type_of(logical)} has no attribute {attribute!r} locally",
                "use Ref or another attribute (see docs/conformance.md)",
            )
        self._origins.setdefault(value, logical)
        return value

    def origin(self, value: Any, where: str, *types: str) -> str:
        """The logical id of the resource `value` (a resolved Ref or GetAtt) names; an ARN or
        name of something outside the stack is refused, naming `where`."""
        logical = self._origins.get(value) if isinstance(value, str) else None
        if logical is None and isinstance(value, str):
            logical = self._by_name(value, types)
        if logical is None or (types and self.type_of(logical) not in types):
            wanted = " or ".join(types) if types else "a resource"
            raise TemplateError(
                where,
                f"{value!r} is not {wanted} of this template",
                "refer to it with !Ref or !GetAtt (resources outside the template do not "
                "exist locally)",
            )
        return logical

    def _by_name(self, value: str, types: tuple[str, ...]) -> str | None:
        tail = value.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        for logical, kind in self.included():
            if (not types or kind in types) and self.name(logical) in (value, tail):
                return logical
        return None

    def trigger(self, function: str, what: str, declare: Trigger) -> None:
        self.triggers.setdefault(function, []).append((what, declare))

    def local_path(self, logical: str, key: str) -> Path | None:
        """The local folder of a function's `Code` or a layer's `Content` (`key`): set aside
        under the resource's original logical id (SAM renames layers), which the placeholder's
        S3Key keeps."""
        location = self.raw_props(logical).get(key)
        if isinstance(location, dict) and location.get("S3Bucket") == PLACEHOLDER_BUCKET:
            return self.local_paths.get(str(location.get("S3Key")))
        return self.local_paths.get(logical)

    def function_of(self, value: Any, where: str) -> str:
        """The logical id of the function a FunctionName, ARN or invocation URI names."""
        if isinstance(value, str) and ":function:" in value:
            value = value.split(":function:", 1)[1].split("/", 1)[0].split(":", 1)[0]
        return self.origin(value, where, "AWS::Lambda::Function")

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


Importer = Callable[[Build, str], None]
