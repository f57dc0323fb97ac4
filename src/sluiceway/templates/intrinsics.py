"""A template's intrinsic functions, conditions and pseudo parameters, resolved to local values.

`Resolver.resolve` walks a value (a resource's properties, an output) and replaces each
intrinsic function by what CloudFormation would compute, with the parameters' values, the
pseudo parameters of `Pseudo`, and each resource's local value from the ``ref`` and
``get_att`` callbacks. ``Ref: AWS::NoValue`` (directly or from ``Fn::If``) removes the key
or list item that holds it. Anything that cannot be resolved locally raises `TemplateError`
naming where it is and the fix.
"""

from __future__ import annotations

import base64
import copy
import difflib
import ipaddress
import itertools
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sluiceway.templates.errors import TemplateError

__all__ = ["Pseudo", "Resolver"]


# ``Ref: AWS::NoValue``: the value that removes the key or list item that holds it.
_NO_VALUE: Final = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_INTEGER = re.compile(r"-?\d+")


@dataclass(frozen=True)
class Pseudo:
    """The pseudo parameters' values for a local stack."""

    region: str
    account_id: str = "000000000000"
    stack_name: str = "sluiceway"
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"

    @property
    def stack_id(self) -> str:
        """``AWS::StackId``: an ARN whose id is stable from the stack's name."""
        stack_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"sluiceway:stack/{self.stack_name}")
        return (
            f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}"
            f":stack/{self.stack_name}/{stack_uuid}"
        )

    def values(self) -> dict[str, Any]:
        """Each pseudo parameter by the name ``Ref`` and ``Fn::Sub`` use."""
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::NotificationARNs": [],
            "AWS::NoValue": _NO_VALUE,
        }


def _shape(value: Any) -> str:
    """How an error names a value's shape."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if value is None:
        return "null"
    if value is _NO_VALUE:
        return "AWS::NoValue"
    return f"the {type(value).__name__} {value!r}"


def _text(value: Any, where: str, what: str) -> str:
    """A scalar as the string CloudFormation makes of it; anything else is an error."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TemplateError(
        where,
        f"{what} is {_shape(value)}, not a string",
        "give it a string (join a list into one with Fn::Join)",
    )


def _list(value: Any, where: str, what: str) -> list[Any]:
    if isinstance(value, list):
        return value
    raise TemplateError(where, f"{what} is {_shape(value)}, not a list", "give it a list")


def _section(template: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = template.get(name) or {}
    if isinstance(section, Mapping):
        return section
    raise TemplateError(name, f"is {_shape(section)}, not a mapping", f"declare {name} by name")


def _integer(value: Any, where: str, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    raise TemplateError(where, f"{what} is {_shape(value)}, not an integer", "make it a number")


def _near(name: str, candidates: list[str]) -> str:
    """A fix's hint: the names close to ``name``, else the names there are."""
    near = difflib.get_close_matches(name, candidates, n=3)
    if near:
        return "did you mean " + " or ".join(repr(candidate) for candidate in near) + "?"
    if not candidates:
        return "the template declares none"
    shown = ", ".join(sorted(candidates)[:12])
    return f"the template declares: {shown}" + (", ..." if len(candidates) > 12 else "")


def _expected(where: str, what: str, form: str, got: Any) -> TemplateError:
    """The error for a function given the wrong shape: what it takes, and what it got."""
    return TemplateError(where, f"{what} expects {form}, got {_shape(got)}", f"write it as {form}")


def _arguments(
    name: str, arg: Any, count: int | tuple[int, int], form: str, where: str
) -> list[Any]:
    """``arg`` as the list of ``count`` (or a (least, most) range of) items a function takes."""
    least, most = (count, count) if isinstance(count, int) else count
    if isinstance(arg, list) and least <= len(arg) <= most:
        return arg
    raise _expected(where, name, form, arg)


def _same(left: Any, right: Any) -> bool:
    """``Fn::Equals``: CloudFormation compares values as strings (``"1"`` equals ``1``)."""

    def normal(value: Any) -> Any:
        if isinstance(value, list):
            return [normal(item) for item in value]
        if isinstance(value, bool | str | int | float):
            return _text(value, "", "")
        return value

    return bool(normal(left) == normal(right))


class Resolver:
    """Resolves the intrinsic functions and conditions of one template."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        pseudo: Pseudo,
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
    ) -> None:
        self._parameters = dict(parameters)
        self._pseudo = pseudo
        self._pseudo_values = pseudo.values()
        self._ref_resource = ref
        self._get_att_resource = get_att
        self._resources = _section(template, "Resources")
        self._declared_conditions = _section(template, "Conditions")
        self._mappings = _section(template, "Mappings")
        self._conditions: dict[str, bool] = {}
        self._evaluating: list[str] = []
        self._in_condition = 0
        self._functions: dict[str, Callable[[Any, str], Any]] = {
            "Fn::Base64": self._base64,
            "Fn::Cidr": self._cidr,
            "Fn::FindInMap": self._find_in_map,
            "Fn::GetAZs": self._get_azs,
            "Fn::GetAtt": self._get_att,
            "Fn::If": self._if,
            "Fn::Join": self._join,
            "Fn::Length": self._length,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::Sub": self._sub,
            "Fn::ToJsonString": self._to_json_string,
        }

    def resolve(self, value: Any, where: str) -> Any:
        """``value`` with every intrinsic function resolved, deeply. A key or list item that
        resolves to ``AWS::NoValue`` is removed; a ``value`` that is itself ``AWS::NoValue``
        resolves to None."""
        resolved = self._resolve(value, where)
        return None if resolved is _NO_VALUE else resolved

    def condition(self, name: str, where: str) -> bool:
        """The value of the condition ``name`` (evaluated once, then cached)."""
        if name in self._conditions:
            return self._conditions[name]
        if name not in self._declared_conditions:
            fix = f"declare it, or fix the name: {_near(name, list(self._declared_conditions))}"
            raise TemplateError(where, f"names the condition '{name}', which is undeclared", fix)
        if name in self._evaluating:
            cycle = " -> ".join([*self._evaluating[self._evaluating.index(name) :], name])
            raise TemplateError(
                f"condition '{name}'",
                f"depends on itself ({cycle})",
                "break the cycle: a condition cannot refer back to itself",
            )
        self._evaluating.append(name)
        try:
            value = self._evaluate(self._declared_conditions[name], f"condition '{name}'")
        finally:
            self._evaluating.pop()
        self._conditions[name] = value
        return value

    def resource_included(self, logical_id: str) -> bool:
        """Whether the resource is created: False when its ``Condition`` is false."""
        where = f"resource '{logical_id}'"
        resource = self._resources.get(logical_id)
        if not isinstance(resource, Mapping):
            raise TemplateError(
                where, "is not declared under Resources", _near(logical_id, list(self._resources))
            )
        name = resource.get("Condition")
        if name is None:
            return True
        if not isinstance(name, str):
            raise _expected(where, "Condition", "the name of a condition", name)
        return self.condition(name, where)

    def _resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, Mapping):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref":
                    return self._ref(arg, where, "Ref")
                if isinstance(key, str) and key.startswith("Fn::"):
                    return self._call(key, arg, where)
            resolved = ((key, self._resolve(item, where)) for key, item in value.items())
            return {key: item for key, item in resolved if item is not _NO_VALUE}
        if isinstance(value, list):
            items = (self._resolve(item, where) for item in value)
            return [item for item in items if item is not _NO_VALUE]
        return value

    def _call(self, name: str, arg: Any, where: str) -> Any:
        function = self._functions.get(name)
        if function is not None:
            return function(arg, where)
        if name == "Fn::ImportValue":
            raise TemplateError(
                where,
                "uses Fn::ImportValue, but no other stack exists locally to export it",
                "replace it with a parameter (Ref) and pass the exported value in "
                "--parameter-overrides Name=value",
            )
        if name in ("Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not"):
            raise TemplateError(
                where,
                f"uses the condition function {name} outside Conditions",
                f"declare a condition with {name} under Conditions and use it through Fn::If",
            )
        near = difflib.get_close_matches(name, list(self._functions), n=1)
        hint = f"did you mean {near[0]}? " if near else ""
        raise TemplateError(
            where,
            f"uses {name}, which sluiceway does not resolve",
            f"{hint}use one of {', '.join(sorted(self._functions))} or Ref",
        )

    def _ref(self, name: Any, where: str, via: str) -> Any:
        if not isinstance(name, str):
            raise _expected(where, via, "the name of a parameter or a resource", name)
        if name in self._parameters:
            return copy.deepcopy(self._parameters[name])
        if name in self._pseudo_values:
            value = self._pseudo_values[name]
            return list(value) if isinstance(value, list) else value
        if name in self._resources:
            self._require_resource(name, where, via)
            return self._ref_resource(name)
        known = [*self._parameters, *self._resources, *self._pseudo_values]
        problem = f"{via} names '{name}', which is not a parameter, pseudo parameter or resource"
        raise TemplateError(where, problem, f"declare it, or fix the name: {_near(name, known)}")

    def _get_att(self, arg: Any, where: str) -> Any:
        form = '[LogicalId, "Attribute"] or "LogicalId.Attribute"'
        if isinstance(arg, str) and "." in arg:
            logical_id, attribute = arg.split(".", 1)
        else:
            logical_id, attribute = _arguments("Fn::GetAtt", arg, 2, form, where)
            attribute = self._resolve(attribute, where)
        if not isinstance(logical_id, str) or not isinstance(attribute, str) or not attribute:
            raise _expected(where, "Fn::GetAtt", form, arg)
        return self._attribute(logical_id, attribute, where, "Fn::GetAtt")

    def _attribute(self, logical_id: str, attribute: str, where: str, via: str) -> Any:
        if logical_id not in self._resources:
            problem = f"{via} names '{logical_id}', which is not a resource"
            if logical_id in self._parameters:
                problem += " (it is a parameter: Ref it instead)"
            raise TemplateError(where, problem, _near(logical_id, list(self._resources)))
        self._require_resource(logical_id, where, via)
        return self._get_att_resource(logical_id, attribute)

    def _require_resource(self, logical_id: str, where: str, via: str) -> None:
        """A resource may be named only outside Conditions, and only when it is created."""
        if self._in_condition:
            raise TemplateError(
                where,
                f"{via} names the resource '{logical_id}' inside a condition",
                "a condition can use only parameters, pseudo parameters and Mappings",
            )
        if not self.resource_included(logical_id):
            condition = self._resources[logical_id]["Condition"]
            raise TemplateError(
                where,
                f"{via} names the resource '{logical_id}', which is not created because its "
                f"condition '{condition}' is false",
                f"guard this value with Fn::If on '{condition}', or drop the resource's Condition",
            )

    def _sub(self, arg: Any, where: str) -> str:
        form = '"text with ${Name}" or ["text with ${Name}", {Name: value}]'
        if isinstance(arg, str):
            text, variables = arg, {}
        else:
            text, variables = _arguments("Fn::Sub", arg, 2, form, where)
            if not isinstance(text, str) or not isinstance(variables, Mapping):
                raise _expected(where, "Fn::Sub", form, arg)
        return _SUB_VARIABLE.sub(lambda match: self._sub_variable(match[1], variables, where), text)

    def _sub_variable(self, name: str, variables: Mapping[str, Any], where: str) -> str:
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        name = name.strip()
        what = f"Fn::Sub's ${{{name}}}"
        if name in variables:
            value = self._resolve(variables[name], where)
        elif "." in name and name.split(".", 1)[0] in self._resources:
            logical_id, attribute = name.split(".", 1)
            value = self._attribute(logical_id, attribute, where, what)
        else:
            value = self._ref(name, where, what)
        return _text(value, where, what)

    def _join(self, arg: Any, where: str) -> str:
        form = "[delimiter, [value, ...]]"
        delimiter, values = _arguments("Fn::Join", arg, 2, form, where)
        delimiter = _text(self._resolve(delimiter, where), where, "Fn::Join's delimiter")
        values = _list(self._resolve(values, where), where, "what Fn::Join joins")
        return delimiter.join(_text(value, where, "a value Fn::Join joins") for value in values)

    def _split(self, arg: Any, where: str) -> list[str]:
        form = "[delimiter, string]"
        delimiter, source = _arguments("Fn::Split", arg, 2, form, where)
        delimiter = _text(self._resolve(delimiter, where), where, "Fn::Split's delimiter")
        if not delimiter:
            raise TemplateError(where, "Fn::Split's delimiter is empty", "give one, such as ','")
        return _text(self._resolve(source, where), where, "Fn::Split's string").split(delimiter)

    def _base64(self, arg: Any, where: str) -> str:
        text = _text(self._resolve(arg, where), where, "the value Fn::Base64 encodes")
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    def _to_json_string(self, arg: Any, where: str) -> str:
        value = self._resolve(arg, where)
        if not isinstance(value, Mapping | list):
            raise _expected(where, "Fn::ToJsonString", "a mapping or a list", value)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)

    def _select(self, arg: Any, where: str) -> Any:
        form = "[index, [value, ...]]"
        index, values = _arguments("Fn::Select", arg, 2, form, where)
        position = _integer(self._resolve(index, where), where, "Fn::Select's index")
        values = _list(self._resolve(values, where), where, "what Fn::Select selects from")
        if not 0 <= position < len(values):
            problem = f"Fn::Select's index {position} is out of range for {_shape(values)}"
            indexes = f"from 0 to {len(values) - 1}" if values else "into a non-empty list"
            raise TemplateError(where, problem, f"use an index {indexes}")
        return values[position]

    def _length(self, arg: Any, where: str) -> int:
        return len(_list(self._resolve(arg, where), where, "what Fn::Length measures"))

    def _get_azs(self, arg: Any, where: str) -> list[str]:
        region = self._resolve(arg, where)
        region = self._pseudo.region if region in ("", None) else region
        region = _text(region, where, "Fn::GetAZs's region")
        return [f"{region}{zone}" for zone in "abc"]

    def _cidr(self, arg: Any, where: str) -> list[str]:
        form = "[ipBlock, count, cidrBits]"
        block, count, bits = (
            self._resolve(item, where) for item in _arguments("Fn::Cidr", arg, 3, form, where)
        )
        try:
            network = ipaddress.ip_network(_text(block, where, "Fn::Cidr's ipBlock"), strict=False)
        except ValueError:
            fix = "give a block such as 10.0.0.0/16"
            raise TemplateError(where, f"Fn::Cidr's ipBlock {block!r} is not a CIDR", fix) from None
        count = _integer(count, where, "Fn::Cidr's count")
        bits = _integer(bits, where, "Fn::Cidr's cidrBits")
        room = network.max_prefixlen - network.prefixlen
        if not 1 <= count <= 256:
            raise TemplateError(where, f"Fn::Cidr's count {count} is not 1 to 256", "ask for 1-256")
        if not 0 <= bits <= room:
            problem = f"Fn::Cidr's cidrBits {bits} does not fit in {network}"
            raise TemplateError(where, problem, f"use cidrBits from 0 to {room} (host bits)")
        if count > 2 ** (room - bits):
            problem = f"Fn::Cidr asks {network} for {count} /{network.max_prefixlen - bits} blocks"
            fix = f"ask for at most {2 ** (room - bits)}, or for smaller blocks (fewer cidrBits)"
            raise TemplateError(where, problem, fix)
        subnets = network.subnets(new_prefix=network.max_prefixlen - bits)
        return [str(subnet) for subnet in itertools.islice(subnets, count)]

    def _if(self, arg: Any, where: str) -> Any:
        form = "[condition name, value if true, value if false]"
        name, when_true, when_false = _arguments("Fn::If", arg, 3, form, where)
        if isinstance(name, Mapping) and set(name) == {"Condition"}:
            name = name["Condition"]
        if not isinstance(name, str):
            raise _expected(where, "Fn::If", form, arg)
        return self._resolve(when_true if self.condition(name, where) else when_false, where)

    def _find_in_map(self, arg: Any, where: str) -> Any:
        form = "[MapName, TopLevelKey, SecondLevelKey] (and optionally {DefaultValue: value})"
        args = _arguments("Fn::FindInMap", arg, (3, 4), form, where)
        map_name, top, second = (
            _text(self._resolve(item, where), where, "a Fn::FindInMap key") for item in args[:3]
        )
        default = args[3] if len(args) == 4 else None
        if default is not None and not (
            isinstance(default, Mapping) and set(default) == {"DefaultValue"}
        ):
            raise _expected(where, "Fn::FindInMap", form, arg)
        mapping = self._mappings.get(map_name)
        if not isinstance(mapping, Mapping):
            fix = f"declare it, or fix the name: {_near(map_name, list(self._mappings))}"
            raise TemplateError(where, f"Fn::FindInMap names the undeclared map '{map_name}'", fix)
        level = _lookup(mapping, top)
        value = _lookup(level, second) if isinstance(level, Mapping) else None
        if value is not None:
            return copy.deepcopy(value)
        if default is not None:
            return self._resolve(default["DefaultValue"], where)
        if isinstance(level, Mapping):
            missing, key, keys = f"'{top}' -> '{second}'", second, list(level)
        else:
            missing, key, keys = f"'{top}'", top, list(mapping)
        raise TemplateError(
            where,
            f"Fn::FindInMap finds no {missing} in the map '{map_name}'",
            f"add it to Mappings '{map_name}' ({_near(key, [str(k) for k in keys])}), "
            "or give Fn::FindInMap a DefaultValue (AWS::LanguageExtensions)",
        )

    def _evaluate(self, body: Any, where: str) -> bool:
        form = "one of Fn::Equals, Fn::And, Fn::Or, Fn::Not or {Condition: name}"
        if not isinstance(body, Mapping) or len(body) != 1:
            raise _expected(where, "a condition", form, body)
        ((name, arg),) = body.items()
        if name == "Condition":
            if not isinstance(arg, str):
                raise _expected(where, "Condition", "the name of a condition", arg)
            return self.condition(arg, where)
        if name == "Fn::Equals":
            left, right = _arguments(name, arg, 2, "[value, value]", where)
            return _same(self._condition_value(left, where), self._condition_value(right, where))
        if name == "Fn::Not":
            (only,) = _arguments(name, arg, 1, "[condition]", where)
            return not self._evaluate(only, where)
        if name in ("Fn::And", "Fn::Or"):
            items = _arguments(name, arg, (2, 10), "a list of 2 to 10 conditions", where)
            values = [self._evaluate(item, where) for item in items]
            return all(values) if name == "Fn::And" else any(values)
        raise _expected(where, "a condition", form, body)

    def _condition_value(self, value: Any, where: str) -> Any:
        self._in_condition += 1
        try:
            return self._resolve(value, where)
        finally:
            self._in_condition -= 1


def _lookup(mapping: Mapping[Any, Any], key: str) -> Any:
    """A Mappings key as CloudFormation reads it: YAML may have made ``1`` or ``true`` of it."""
    if key in mapping:
        return mapping[key]
    scalars = ((name, value) for name, value in mapping.items() if isinstance(name, int | float))
    return next((value for name, value in scalars if _text(name, "", "") == key), None)
