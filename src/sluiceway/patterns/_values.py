"""How compiled patterns walk an event's values: predicates, the scalars at a path, and
the elements of (nested) arrays."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sluiceway.patterns._model import MISSING

Pred = Callable[[Any], bool]


def never(_value: Any) -> bool:
    return False


def always(_value: Any) -> bool:
    return True


def is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def is_sequence(value: Any) -> bool:
    return type(value) is list or isinstance(value, (list, tuple))


def is_structured(value: Any) -> bool:
    return is_mapping(value) or is_sequence(value)


def is_plain(value: Any) -> bool:
    return value is not MISSING and not is_mapping(value) and not is_sequence(value)


def scalars(value: Any) -> list[Any]:
    """The scalar values at a path: the value itself, or the flattened scalars of an array."""
    if value is MISSING or is_mapping(value):
        return []
    if is_sequence(value):
        out: list[Any] = []
        for element in value:
            out.extend(scalars(element))
        return out
    return [value]


def elements(value: Any) -> list[Any]:
    """The non-array elements of a (nested) array."""
    out: list[Any] = []
    for element in value:
        if is_sequence(element):
            out.extend(elements(element))
        else:
            out.append(element)
    return out


def any_scalar(seq: Any, scalar: Pred) -> bool:
    for element in seq:
        t = type(element)
        if t is dict:
            continue
        if t is list or t is tuple:
            if any_scalar(element, scalar):
                return True
        elif isinstance(element, Mapping):
            continue
        elif isinstance(element, (list, tuple)):
            if any_scalar(element, scalar):
                return True
        elif scalar(element):
            return True
    return False


def any_element(seq: Any, pred: Pred) -> bool:
    for element in seq:
        if type(element) is list or isinstance(element, (list, tuple)):
            if any_element(element, pred):
                return True
        elif pred(element):
            return True
    return False


def all_elements(seq: Any, pred: Pred) -> bool:
    for element in seq:
        if type(element) is list or isinstance(element, (list, tuple)):
            if not all_elements(element, pred):
                return False
        elif not pred(element):
            return False
    return True
