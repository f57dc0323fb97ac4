"""A template's parameters, valued as CloudFormation values them, and `--parameter-overrides`.

Each parameter takes its override, else its ``Default``, and is typed as CloudFormation
passes it to ``Ref``: ``String``, ``Number`` and the AWS-specific types as a string (a
number stays a string, checked numeric), ``CommaDelimitedList``, ``List<Number>`` and
``List<AWS::...>`` as a list of strings, each member space-trimmed. Its constraints
(AllowedValues, AllowedPattern, MinLength/MaxLength, MinValue/MaxValue) are checked as
CloudFormation checks them at stack creation, so a bad value fails here, not on AWS.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sluiceway.templates.errors import TemplateError

__all__ = ["parameter_values", "parse_overrides"]

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z0-9]+")
_CFN_FORM = re.compile(r"ParameterKey=([^,]*),ParameterValue=(.*)", re.DOTALL)
_SSM_VALUE = re.compile(r"AWS::SSM::Parameter::Value<(.+)>")
_OVERRIDES_FIX = (
    "write each override as Key=Value (or ParameterKey=Key,ParameterValue=Value), separated by "
    "spaces, and quote a value that holds spaces: Key=\"a b\" or Key='a b'"
)


def _missing_fix(name: str) -> str:
    return f"pass --parameter-overrides {name}=value (or set parameter_overrides in samconfig.toml)"


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    """Each parameter of ``template["Parameters"]``: the override, else its ``Default``, typed
    and checked as CloudFormation types and checks it. Raises `TemplateError` for a parameter
    without a value, a value its constraints reject, or an override the template does not
    declare."""
    declared = _declared(template)
    for name in overrides:
        if name not in declared:
            raise TemplateError(
                f"parameter '{name}'",
                "is given in the parameter overrides, but the template declares no such parameter",
                _undeclared_fix(name, list(declared)),
            )
    return {name: _value(name, spec, overrides.get(name)) for name, spec in declared.items()}


def _declared(template: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    section = template.get("Parameters") or {}
    if not isinstance(section, Mapping):
        raise TemplateError(
            "Parameters",
            "is not a mapping of parameter names to declarations",
            "declare each parameter as Name: {Type: String, Default: ...}",
        )
    declared: dict[str, Mapping[str, Any]] = {}
    for name, spec in section.items():
        if not isinstance(spec, Mapping) or not isinstance(spec.get("Type"), str):
            raise TemplateError(
                f"parameter '{name}'",
                "has no Type",
                "give it a Type such as String, Number or CommaDelimitedList",
            )
        declared[str(name)] = spec
    return declared


def _undeclared_fix(name: str, declared: list[str]) -> str:
    if not declared:
        return "remove it: the template declares no parameters"
    near = difflib.get_close_matches(name, declared, n=1)
    hint = f"did you mean '{near[0]}'? " if near else ""
    return f"{hint}remove it, or name one of the declared parameters: {', '.join(declared)}"


def _value(name: str, spec: Mapping[str, Any], override: str | None) -> Any:
    where = f"parameter '{name}'"
    type_name: str = spec["Type"]
    kind = _kind(type_name, where)
    if override is not None:
        source, raw = "override", override
    elif kind == "ssm":
        raise TemplateError(
            where,
            f"its type {type_name} is read from SSM Parameter Store, which sluiceway does not "
            "reach locally",
            f"pass --parameter-overrides {name}=value, which then is used as-is",
        )
    elif "Default" in spec:
        source, raw = "Default", _default_text(spec["Default"], where)
    else:
        raise TemplateError(where, "has no value: no override and no Default", _missing_fix(name))
    if kind == "ssm":
        return [item.strip() for item in raw.split(",")] if _is_list(type_name) else raw
    items = [item.strip() for item in raw.split(",")] if kind in ("list", "numbers") else [raw]
    for item in items:
        _check(name, spec, kind, source, item)
    return items if kind in ("list", "numbers") else raw


def _is_list(type_name: str) -> bool:
    match = _SSM_VALUE.fullmatch(type_name)
    inner = match.group(1) if match else type_name
    return inner == "CommaDelimitedList" or inner.startswith("List<")


def _kind(type_name: str, where: str) -> str:
    """What a parameter type is to `Ref`: a string, a number, a list, a list of numbers, or
    an SSM value (not resolvable offline)."""
    if type_name == "String" or (type_name.startswith("AWS::") and "<" not in type_name):
        return "string"
    if type_name == "Number":
        return "number"
    if type_name == "List<Number>":
        return "numbers"
    if type_name == "CommaDelimitedList" or re.fullmatch(r"List<AWS::[\w:]+>", type_name):
        return "list"
    if _SSM_VALUE.fullmatch(type_name):
        return "ssm"
    raise TemplateError(
        where,
        f"has the type {type_name!r}, which CloudFormation does not know",
        "use String, Number, List<Number>, CommaDelimitedList, an AWS-specific type such as "
        "AWS::EC2::VPC::Id (or List<AWS::EC2::Subnet::Id>), or AWS::SSM::Parameter::Value<String>",
    )


def _default_text(default: Any, where: str) -> str:
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, str | int | float):
        return str(default)
    if isinstance(default, list) and all(isinstance(item, str | int | float) for item in default):
        return ",".join(str(item) for item in default)
    raise TemplateError(
        where,
        f"has a Default that is not a string: {default!r}",
        "write the Default as a string (a list as 'a,b,c')",
    )


def _check(name: str, spec: Mapping[str, Any], kind: str, source: str, item: str) -> None:
    """Raise when one value (one member, for a list) breaks one of the constraints."""
    for requirement, satisfied in _requirements(spec, kind, f"parameter '{name}'"):
        if satisfied(item):
            continue
        description = spec.get("ConstraintDescription")
        if description:
            problem = f"the {source} {item!r} is rejected: {description}"
        else:
            problem = f"the {source} {item!r} is not {requirement}"
        fix = f"pass --parameter-overrides {name}=value with a value that is {requirement}"
        if source == "Default":
            fix = f"change its Default, or {fix}"
        raise TemplateError(f"parameter '{name}'", problem, fix)


def _requirements(
    spec: Mapping[str, Any], kind: str, where: str
) -> list[tuple[str, Callable[[str], bool]]]:
    """The parameter's constraints, each as (what a value must be, its test)."""
    checks: list[tuple[str, Callable[[str], bool]]] = []
    if kind in ("number", "numbers"):
        checks.append(("a number", lambda v: _NUMBER.fullmatch(v) is not None))
    if "AllowedValues" in spec:
        allowed = _allowed_values(spec["AllowedValues"], where)
        listed = ", ".join(repr(value) for value in allowed)
        checks.append((f"one of the AllowedValues {listed}", lambda v: v in allowed))
    if "AllowedPattern" in spec:
        pattern = _pattern(spec["AllowedPattern"], where)
        text = f"a full match of the AllowedPattern {pattern.pattern!r}"
        checks.append((text, lambda v: pattern.fullmatch(v) is not None))
    if "MinLength" in spec:
        low = int(_bound(spec, "MinLength", where))
        checks.append((f"at least {low} characters long (MinLength)", lambda v: len(v) >= low))
    if "MaxLength" in spec:
        high = int(_bound(spec, "MaxLength", where))
        checks.append((f"at most {high} characters long (MaxLength)", lambda v: len(v) <= high))
    if kind in ("number", "numbers") and "MinValue" in spec:
        least = _bound(spec, "MinValue", where)
        checks.append((f"at least {least:g} (MinValue)", lambda v: float(v) >= least))
    if kind in ("number", "numbers") and "MaxValue" in spec:
        most = _bound(spec, "MaxValue", where)
        checks.append((f"at most {most:g} (MaxValue)", lambda v: float(v) <= most))
    return checks


def _allowed_values(values: Any, where: str) -> list[str]:
    if not isinstance(values, list):
        raise TemplateError(where, "has AllowedValues that is not a list", "list the values")
    return [_default_text(value, where) for value in values]


def _pattern(pattern: Any, where: str) -> re.Pattern[str]:
    try:
        return re.compile(str(pattern))
    except re.error as error:
        raise TemplateError(
            where,
            f"has an AllowedPattern {pattern!r} that is not a regular expression ({error})",
            "correct the AllowedPattern",
        ) from None


def _bound(spec: Mapping[str, Any], key: str, where: str) -> float:
    value = spec[key]
    if isinstance(value, bool) or not _NUMBER.fullmatch(str(value)):
        raise TemplateError(where, f"has {key} {value!r}, which is not a number", f"fix {key}")
    return float(value)


def parse_overrides(items: Sequence[str]) -> dict[str, str]:
    """`--parameter-overrides` as sam takes it: each item holds one or more space-separated
    ``Key=Value`` or ``ParameterKey=Key,ParameterValue=Value`` pairs; a quoted value (or
    pair) keeps its spaces, and ``\\"``, ``\\'`` and ``\\ `` escape a quote or a space. A later
    pair for the same key wins. Raises `TemplateError` for a malformed pair."""
    overrides: dict[str, str] = {}
    for item in items:
        for token in _tokens(item):
            key, value = _pair(token)
            overrides[key] = value
    return overrides


def _tokens(text: str) -> list[str]:
    """Split at unquoted whitespace, dropping the quotes, as sam's own parser does (a
    backslash escapes only a quote or a space; any other is kept, as patterns need)."""
    tokens: list[str] = []
    current: list[str] = []
    started = False
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        following = text[index + 1] if index + 1 < len(text) else ""
        if char == "\\" and following in ("'", '"', " "):
            current.append(following)
            started, index = True, index + 2
            continue
        if quote is not None:
            if char == quote:
                quote = None
            else:
                current.append(char)
        elif char.isspace():
            if started:
                tokens.append("".join(current))
            current, started = [], False
        elif char in ("'", '"'):
            quote, started = char, True
        else:
            current.append(char)
            started = True
        index += 1
    if quote is not None:
        raise TemplateError(
            "--parameter-overrides", f"{text!r} has an unclosed {quote} quote", _OVERRIDES_FIX
        )
    if started:
        tokens.append("".join(current))
    return tokens


def _pair(token: str) -> tuple[str, str]:
    match = _CFN_FORM.fullmatch(token)
    if match is not None:
        key, value = match.group(1), match.group(2)
    elif token.startswith("ParameterKey="):
        raise TemplateError(
            "--parameter-overrides",
            f"{token!r} has ParameterKey without a ParameterValue",
            _OVERRIDES_FIX,
        )
    else:
        key, separator, value = token.partition("=")
        if not separator:
            raise TemplateError(
                "--parameter-overrides", f"{token!r} is not Key=Value", _OVERRIDES_FIX
            )
    if not _NAME.fullmatch(key):
        raise TemplateError(
            "--parameter-overrides",
            f"{token!r} names the parameter {key!r}, but parameter names are alphanumeric",
            _OVERRIDES_FIX,
        )
    return key, value
