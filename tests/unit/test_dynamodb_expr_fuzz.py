"""Hostile expressions: any text gives a result or a ValidationError, quickly, never a crash."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sluiceway.core.errors import ValidationError
from sluiceway.dynamodb.expressions import (
    parse_condition,
    parse_key_condition,
    parse_projection,
    parse_update,
)

NAMES = {"#a": "a", "#b": "b.c"}
VALUES: dict[str, Any] = {
    ":s": {"S": "x"},
    ":n": {"N": "1"},
    ":l": {"L": [{"N": "1"}]},
    ":ss": {"SS": ["x"]},
    ":m": {"M": {"k": {"S": "v"}}},
}
ITEM: dict[str, Any] = {
    "a": {"M": {"b": {"L": [{"N": "1"}, {"S": "x"}]}}},
    "n": {"N": "3"},
    "s": {"S": "xyz"},
    "ss": {"SS": ["x", "y"]},
}

PIECES = [
    "a", "n", "s", "ss", "#a", "#b", "#zz", ":s", ":n", ":l", ":ss", ":m", ":zz", "AND", "OR",
    "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE", "=", "<>", "<", "<=", ">", ">=",
    "(", ")", "[", "]", "[0]", "[1]", ".", ",", "+", "-", "size", "attribute_exists",
    "attribute_not_exists", "attribute_type", "begins_with", "contains", "if_not_exists",
    "list_append", "value", "0", "!", "#", ":", "_", " ",
]  # fmt: skip

texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(PIECES), max_size=40).map(" ".join),
    st.lists(st.sampled_from(PIECES), max_size=40).map("".join),
)


def _each_parser(text: str) -> None:
    for attempt in (
        lambda: parse_condition(text, NAMES, VALUES).evaluate(ITEM),
        lambda: parse_condition(text, NAMES, VALUES).evaluate(None),
        lambda: parse_update(text, NAMES, VALUES).apply(ITEM, key_names=("n",)),
        lambda: parse_update(text, NAMES, VALUES).apply(None),
        lambda: parse_projection(text, NAMES).apply(ITEM),
        lambda: parse_key_condition(text, NAMES, VALUES, partition_key="a", sort_key="n"),
    ):
        with contextlib.suppress(ValidationError):
            attempt()


@settings(max_examples=400, deadline=None)
@given(texts)
def test_random_text_gives_a_result_or_a_validation_error(text: str) -> None:
    _each_parser(text)


def test_worst_case_inputs_stay_fast() -> None:
    hostile = [
        "(" * 4000,
        "NOT " * 1000 + "a = :n",
        "a IN (" + ":n," * 1300,
        "a" + "[0]" * 1300,
        "a" + ".a" * 2000,
        "SET " + ", ".join(f"x{i} = :n" for i in range(500)),
        "REMOVE " + ", ".join(f"x{i}" for i in range(800)),
        ", ".join(f"x{i}" for i in range(800)),
        "a = :n AND " * 370 + "a = :n",
        "list_append(" * 1000,
        "SET a = " + "if_not_exists(a, " * 400,
    ]
    started = time.perf_counter()
    for text in hostile:
        _each_parser(text)
    assert time.perf_counter() - started < 5
