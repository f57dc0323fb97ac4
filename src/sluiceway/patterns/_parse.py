"""Parse and validate a pattern (JSON text or mapping) into a small tree, per context.

The tree mirrors the pattern: an :class:`ObjSpec` per JSON object (its fields and its
``$or`` groups), a :class:`LeafSpec` per array of alternatives. Every rule the services check
at create time is checked here, so an invalid pattern fails when it is declared.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, NoReturn

from sluiceway.patterns._model import SNS_CONTEXTS, Context, PatternError
from sluiceway.patterns._numbers import (
    decimal_places,
    is_finite,
    is_number,
    number_key,
    number_text,
    to_float,
)
from sluiceway.patterns._ops import (
    Alt,
    AnythingBut,
    AnythingButForm,
    EqualsIgnoreCase,
    Exact,
    Exists,
    NumberLit,
    Numeric,
    Prefix,
    Suffix,
    Wildcard,
    parse_cidr,
    quote,
    wildcard_segments,
)
from sluiceway.patterns._tree import LeafSpec, ObjSpec, OrSpec, check_limits

MAX_PATTERN_CHARS: Final = 4096
MAX_SNS_POLICY_BYTES: Final = 256 * 1024
SNS_NUMBER_LIMIT: Final = 1_000_000_000
SNS_DECIMAL_PLACES: Final = 5

# Field names event-ruler refuses inside "$or" objects (Constants.RESERVED_FIELD_NAMES...).
RESERVED_IN_OR: Final = frozenset(
    {
        "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists",
        "wildcard", "numeric", "cidr", "html", "=", "<", "<=", ">", ">=", "regex",
        "not-wildcard", "not-equals-ignore-case", "date-after", "date-on-or-after",
        "date-before", "date-on-or-before", "in-date-range", "ip-address-in-range",
        "ip-address-not-in-range",
    }
)  # fmt: skip

_PIPES_UNSUPPORTED: Final = frozenset(
    {
        "wildcard",
        "anything-but/prefix",
        "anything-but/suffix",
        "anything-but/equals-ignore-case",
        "anything-but/wildcard",
    }
)
_SNS_UNSUPPORTED: Final = frozenset(
    {
        "wildcard",
        "anything-but/equals-ignore-case",
        "anything-but/wildcard",
        "prefix/equals-ignore-case",
        "suffix/equals-ignore-case",
    }
)
_UNSUPPORTED: Final[dict[str, frozenset[str]]] = {
    "eventbridge": frozenset(),
    "pipes": _PIPES_UNSUPPORTED,
    "esm": _PIPES_UNSUPPORTED,
    "sns-attributes": _SNS_UNSUPPORTED,
    "sns-body": _SNS_UNSUPPORTED,
}
_SERVICE: Final[dict[str, str]] = {
    "pipes": "EventBridge Pipes / Lambda event filtering",
    "esm": "EventBridge Pipes / Lambda event filtering",
    "sns-attributes": "SNS filter policies",
    "sns-body": "SNS filter policies",
}
_NUMERIC_OPS: Final = frozenset({"=", "<", "<=", ">", ">="})


@dataclass(frozen=True, slots=True)
class Parsed:
    root: ObjSpec
    source: str


def parse(pattern: str | Mapping[str, Any], context: Context) -> Parsed:
    """Validate ``pattern`` for ``context`` and return its tree and canonical compact JSON."""
    if context not in _UNSUPPORTED:
        raise ValueError(f"unknown pattern context {context!r}")
    try:
        if isinstance(pattern, str):
            _check_size(pattern, context)
            tree = _load(pattern, context)
        elif isinstance(pattern, Mapping):
            tree = _normalize(pattern, "", context)
        else:
            raise PatternError(
                f"a pattern is JSON text or a mapping, not {type(pattern).__name__}",
                context=context,
            )
        source = dump(tree)
        if not isinstance(pattern, str):
            _check_size(source, context)
        root = _Parser(context).root(tree)
    except RecursionError:
        raise PatternError("the pattern is nested too deeply", context=context) from None
    check_limits(root, context)
    return Parsed(root=root, source=source)


# -- loading -------------------------------------------------------------------------------


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _last_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate keys: AWS evaluates only the last occurrence.
    return dict(pairs)


def _load(text: str, context: Context) -> Any:
    try:
        return json.loads(
            text,
            object_pairs_hook=_last_wins,
            parse_float=Decimal,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as e:
        raise PatternError(
            f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})", context=context
        ) from None
    except ValueError as e:
        raise PatternError(f"not valid JSON: {e}", context=context) from None


def _normalize(value: Any, path: str, context: Context) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise PatternError(
                    f"field names must be strings, got {key!r}", path=path, context=context
                )
            out[key] = _normalize(item, _join(path, key), context)
        return out
    if isinstance(value, (list, tuple)):
        return [_normalize(item, path, context) for item in value]
    if value is None or isinstance(value, (str, bool)):
        return value
    if is_number(value):
        if not is_finite(value):
            raise PatternError(f"{value} is not a JSON number", path=path, context=context)
        return value
    raise PatternError(
        f"values of type {type(value).__name__} cannot appear in a pattern",
        path=path,
        context=context,
    )


def dump(value: Any) -> str:
    """Compact JSON with numbers written as their canonical text."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{quote(k)}:{dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v) for v in value) + "]"
    if isinstance(value, str):
        return quote(value)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return number_text(value)


def _check_size(text: str, context: Context) -> None:
    if context in SNS_CONTEXTS:
        size = len(text.encode("utf-8"))
        if size > MAX_SNS_POLICY_BYTES:
            raise PatternError(
                f"the filter policy is {size} bytes; the limit is {MAX_SNS_POLICY_BYTES}",
                context=context,
            )
    elif len(text) > MAX_PATTERN_CHARS:
        raise PatternError(
            f"the pattern is {len(text)} characters; the limit is {MAX_PATTERN_CHARS}",
            context=context,
        )


# What EventBridge Pipes cannot filter on: fields its poller adds to each record
# (eb-pipes-event-filtering). Lambda's own ESM filters may use them ({"eventName": [...]}).
POLLER_FIELDS = frozenset(
    {
        "awsRegion",
        "eventSource",
        "eventSourceARN",
        "eventVersion",
        "eventID",
        "eventName",
        "invokeIdentityArn",
        "eventSourceKey",
    }
)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# -- the tree ------------------------------------------------------------------------------


class _Parser:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.sns = context in SNS_CONTEXTS
        self.unsupported = _UNSUPPORTED[context]

    def error(self, reason: str, path: str) -> PatternError:
        return PatternError(reason, path=path, context=self.context)

    def root(self, tree: Any) -> ObjSpec:
        if not isinstance(tree, dict):
            raise self.error("a pattern must be a JSON object", "")
        if not tree and self.sns:
            return ObjSpec(path=(), items=())  # an empty filter policy lets everything through
        return self.object(tree, (), "", in_or=False)

    def object(
        self, node: dict[str, Any], epath: tuple[str, ...], jpath: str, *, in_or: bool
    ) -> ObjSpec:
        if not node:
            raise self.error("empty objects are not allowed", jpath)
        items: list[tuple[str, LeafSpec | ObjSpec | OrSpec]] = []
        for key, value in node.items():
            here = _join(jpath, key)
            if self.context == "pipes" and not epath and key in POLLER_FIELDS:
                raise self.error(
                    f"Pipes filter on the fields the source sends, not on {quote(key)}, which "
                    "the poller adds (awsRegion, eventSource, eventSourceARN, eventVersion, "
                    "eventID, eventName, invokeIdentityArn, eventSourceKey); filter on the "
                    "record's data (e.g. an INSERT has no dynamodb.OldImage) or in the target",
                    here,
                )
            if in_or and key in RESERVED_IN_OR:
                raise self.error(
                    f"{quote(key)} is a reserved word and cannot be a field inside $or", here
                )
            if key == "$or" and isinstance(value, list):
                items.append((key, self.or_group(value, epath, jpath)))
            elif isinstance(value, dict):
                if self.context == "sns-attributes":
                    raise self.error(
                        "nested policies need FilterPolicyScope MessageBody; message attribute "
                        "policies must be flat",
                        here,
                    )
                items.append((key, self.object(value, (*epath, key), here, in_or=in_or)))
            elif isinstance(value, list):
                items.append((key, self.leaf(value, (*epath, key), here)))
            else:
                raise self.error(f"{quote(key)} must be an object or an array", here)
        return ObjSpec(path=epath, items=tuple(items))

    def or_group(self, branches: list[Any], epath: tuple[str, ...], jpath: str) -> OrSpec:
        here = _join(jpath, "$or")
        if len(branches) < 2 or not all(isinstance(b, dict) for b in branches):
            raise self.error("$or needs an array of at least 2 objects", here)
        return OrSpec(
            tuple(
                self.object(branch, epath, f"{here}[{i}]", in_or=True)
                for i, branch in enumerate(branches)
            )
        )

    def leaf(self, values: list[Any], epath: tuple[str, ...], jpath: str) -> LeafSpec:
        if not values:
            raise self.error("empty arrays are not allowed", jpath)
        alts: list[Alt] = []
        for value in values:
            if value is None or isinstance(value, (bool, str)):
                alts.append(Exact(value, by_value=self.sns))
            elif is_number(value):
                alts.append(Exact(self.number(value, jpath), by_value=self.sns))
            elif isinstance(value, dict):
                alts.append(self.operator(value, jpath))
            else:
                raise self.error(
                    "match values must be strings, numbers, true, false, null or operator "
                    "objects (no nested arrays)",
                    jpath,
                )
        return LeafSpec(path=epath, alts=tuple(alts))

    def number(self, value: Any, jpath: str) -> NumberLit:
        text = dump(value)
        text = text if len(text) <= 40 else text[:39] + "…"
        as_float = to_float(value)
        if not math.isfinite(as_float):
            raise self.error(f"the number {text} is out of range", jpath)
        if self.sns and (
            abs(as_float) > SNS_NUMBER_LIMIT or decimal_places(value) > SNS_DECIMAL_PLACES
        ):
            raise self.error(
                f"numbers in SNS filter policies must be between -{SNS_NUMBER_LIMIT} and "
                f"{SNS_NUMBER_LIMIT} with at most {SNS_DECIMAL_PLACES} decimal places, "
                f"got {text}",
                jpath,
            )
        return NumberLit(text=text, key=number_key(value), value=as_float)

    def require(self, operator: str, jpath: str) -> None:
        if operator in self.unsupported:
            raise PatternError(
                f"operator '{operator}' is not supported by {_SERVICE[self.context]}",
                path=jpath,
                context=self.context,
                message=(
                    f"operator '{operator}' at {jpath or '(root)'} is not supported by "
                    f"{_SERVICE[self.context]}"
                ),
            )

    def operator(self, op: dict[str, Any], jpath: str) -> Alt:
        if len(op) != 1:
            if not op:
                raise self.error("an operator object must not be empty", jpath)
            names = ", ".join(quote(k) for k in op)
            raise self.error(f"an operator object must have exactly one key, found {names}", jpath)
        name, arg = next(iter(op.items()))
        if name in ("prefix", "suffix"):
            return self.affix(name, arg, jpath)
        if name == "equals-ignore-case":
            return EqualsIgnoreCase(self.string(name, arg, jpath))
        if name == "wildcard":
            self.require(name, jpath)
            return Wildcard(self.wildcard(self.string(name, arg, jpath), jpath))
        if name == "anything-but":
            return self.anything_but(arg, jpath)
        if name == "numeric":
            return self.numeric(arg, jpath)
        if name == "cidr":
            try:
                return parse_cidr(self.string(name, arg, jpath))
            except ValueError as e:
                raise self.error(str(e), jpath) from None
        if name == "exists":
            if not isinstance(arg, bool):
                raise self.error("exists must be true or false", jpath)
            return Exists(arg)
        raise self.error(f"unrecognized operator {quote(name)}", jpath)

    def string(self, name: str, arg: Any, jpath: str) -> str:
        if not isinstance(arg, str):
            raise self.error(f"{name} needs a string", jpath)
        return arg

    def wildcard(self, text: str, jpath: str) -> str:
        try:
            wildcard_segments(text)
        except ValueError as e:
            raise self.error(str(e), jpath) from None
        return text

    def affix(self, name: str, arg: Any, jpath: str) -> Alt:
        kind = Prefix if name == "prefix" else Suffix
        if isinstance(arg, str):
            return kind(arg)
        if isinstance(arg, dict) and list(arg) == ["equals-ignore-case"]:
            self.require(f"{name}/equals-ignore-case", jpath)
            return kind(
                self.string(f"{name} equals-ignore-case", arg["equals-ignore-case"], jpath), True
            )
        raise self.error(f'{name} needs a string or {{"equals-ignore-case": <string>}}', jpath)

    def anything_but(self, arg: Any, jpath: str) -> AnythingBut:
        if isinstance(arg, dict):
            return self.anything_but_form(arg, jpath)
        if isinstance(arg, str):
            return AnythingBut("values", strings=(arg,))
        if is_number(arg):
            return AnythingBut("values", numbers=(self.number(arg, jpath),))
        if isinstance(arg, list) and arg:
            if all(isinstance(v, str) for v in arg):
                return AnythingBut("values", strings=tuple(arg))
            if all(is_number(v) for v in arg):
                return AnythingBut("values", numbers=tuple(self.number(v, jpath) for v in arg))
            raise self.error(
                "an anything-but list must hold only strings or only numbers "
                "(mixed types, null and booleans are not allowed)",
                jpath,
            )
        if isinstance(arg, list):
            raise self.error("an anything-but list must not be empty", jpath)
        raise self.error(
            "anything-but needs a string, a number, a list of strings or a list of numbers",
            jpath,
        )

    def anything_but_form(self, arg: dict[str, Any], jpath: str) -> AnythingBut:
        forms: tuple[AnythingButForm, ...] = ("prefix", "suffix", "equals-ignore-case", "wildcard")
        if len(arg) != 1 or next(iter(arg)) not in forms:
            names = ", ".join(quote(k) for k in arg) or "nothing"
            raise self.error(
                f"anything-but takes one of prefix, suffix, equals-ignore-case or wildcard, "
                f"found {names}",
                jpath,
            )
        form: AnythingButForm = next(f for f in forms if f in arg)
        self.require(f"anything-but/{form}", jpath)
        inner = arg[form]
        values = inner if isinstance(inner, list) else [inner]
        if not values or not all(isinstance(v, str) for v in values):
            raise self.error(
                f"anything-but {form} needs a string or a non-empty list of strings", jpath
            )
        if form in ("prefix", "suffix") and any(v == "" for v in values):
            raise self.error(f"anything-but {form} must not be empty", jpath)
        if form == "wildcard":
            for value in values:
                self.wildcard(value, jpath)
        return AnythingBut(form, strings=tuple(values))

    def numeric(self, arg: Any, jpath: str) -> Numeric:
        if not isinstance(arg, list) or len(arg) not in (2, 4):
            raise self.error(
                "numeric needs one comparison or a lower and an upper bound, "
                'e.g. [">", 0, "<=", 5]',
                jpath,
            )
        terms: list[tuple[str, NumberLit]] = []
        for op, value in zip(arg[0::2], arg[1::2], strict=True):
            if not isinstance(op, str) or op not in _NUMERIC_OPS:
                raise self.error(f"unrecognized numeric operator {json.dumps(op)}", jpath)
            if not is_number(value):
                raise self.error(f"the value after {quote(op)} must be a number", jpath)
            terms.append((op, self.number(value, jpath)))
        if len(terms) == 1:
            op, lit = terms[0]
            if op == "=":
                return Numeric(tuple(terms), lit.value, True, lit.value, True)
            if op in (">", ">="):
                return Numeric(tuple(terms), lower=lit.value, lower_inclusive=op == ">=")
            return Numeric(tuple(terms), upper=lit.value, upper_inclusive=op == "<=")
        (low_op, low), (high_op, high) = terms
        if low_op not in (">", ">=") or high_op not in ("<", "<="):
            raise self.error(
                'a numeric range is one lower bound followed by one upper bound, e.g. [">", 0, '
                '"<=", 5]',
                jpath,
            )
        if not low.value < high.value:
            raise self.error(
                "the lower bound of a numeric range must be below the upper bound", jpath
            )
        return Numeric(tuple(terms), low.value, low_op == ">=", high.value, high_op == "<=")
