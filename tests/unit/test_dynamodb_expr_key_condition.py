"""KeyConditionExpression: the partition key's value and one sort-key condition."""

from __future__ import annotations

from typing import Any

import pytest

from sluiceway.core.errors import ValidationError
from sluiceway.dynamodb.expressions import KeyCondition, Usage, parse_key_condition
from sluiceway.dynamodb.keys import SortKeyCondition

VALUES: dict[str, Any] = {
    ":p": {"S": "user-1"},
    ":a": {"N": "1"},
    ":b": {"N": "9"},
    ":prefix": {"S": "2024-"},
}


PREFIX = {"S": "2024-"}


def parse(text: str, names: Any = None, sort_key: str | None = "sk") -> KeyCondition:
    return parse_key_condition(text, names, VALUES, partition_key="pk", sort_key=sort_key)


def error_of(text: str, sort_key: str | None = "sk") -> str:
    with pytest.raises(ValidationError) as caught:
        parse(text, sort_key=sort_key)
    return str(caught.value)


def test_partition_key_alone() -> None:
    condition = parse("pk = :p")
    assert condition.partition_value == {"S": "user-1"}
    assert condition.sort is None


@pytest.mark.parametrize(
    ("text", "sort"),
    [
        ("pk = :p AND sk = :a", SortKeyCondition("=", ({"N": "1"},))),
        ("pk = :p AND sk < :a", SortKeyCondition("<", ({"N": "1"},))),
        ("pk = :p AND sk <= :a", SortKeyCondition("<=", ({"N": "1"},))),
        ("pk = :p AND sk > :a", SortKeyCondition(">", ({"N": "1"},))),
        ("pk = :p AND sk >= :a", SortKeyCondition(">=", ({"N": "1"},))),
        ("pk = :p AND :a < sk", SortKeyCondition(">", ({"N": "1"},))),
        ("pk = :p AND sk BETWEEN :a AND :b", SortKeyCondition("between", ({"N": "1"}, {"N": "9"}))),
        ("pk = :p AND begins_with(sk, :prefix)", SortKeyCondition("begins_with", (PREFIX,))),
        ("sk = :a AND pk = :p", SortKeyCondition("=", ({"N": "1"},))),
        ("(pk = :p) and (sk > :a)", SortKeyCondition(">", ({"N": "1"},))),
        (":p = pk AND sk >= :a", SortKeyCondition(">=", ({"N": "1"},))),
    ],
)
def test_each_sort_key_condition(text: str, sort: SortKeyCondition) -> None:
    condition = parse(text)
    assert condition.partition_value == {"S": "user-1"}
    assert condition.sort == sort


def test_names_stand_in_for_keys_and_usage_is_recorded() -> None:
    usage = Usage()
    names = {"#p": "pk", "#s": "sk"}
    condition = parse_key_condition(
        "#p = :p AND #s BETWEEN :a AND :b", names, VALUES, usage, partition_key="pk", sort_key="sk"
    )
    assert condition.sort is not None
    assert condition.sort.op == "between"
    with pytest.raises(ValidationError, match=r"keys: \{:prefix\}"):
        usage.check(names, VALUES)


def test_an_index_is_queried_by_its_own_keys() -> None:
    condition = parse_key_condition(
        "gpk = :p AND gsk > :a", None, VALUES, partition_key="gpk", sort_key="gsk"
    )
    assert condition.sort == SortKeyCondition(">", ({"N": "1"},))


def test_matches_checks_both_keys() -> None:
    condition = parse("pk = :p AND sk BETWEEN :a AND :b")
    inside = {"pk": {"S": "user-1"}, "sk": {"N": "5"}}
    assert condition.matches(inside, "pk", "sk") is True
    assert condition.matches({**inside, "sk": {"N": "10"}}, "pk", "sk") is False
    assert condition.matches({**inside, "pk": {"S": "user-2"}}, "pk", "sk") is False
    prefix = parse("pk = :p AND begins_with(sk, :prefix)")
    assert prefix.matches({"pk": {"S": "user-1"}, "sk": {"S": "2024-05"}}, "pk", "sk") is True
    assert parse("pk = :p").matches({"pk": {"S": "user-1"}}, "pk", None) is True


def test_the_partition_key_is_required_with_equality() -> None:
    assert error_of("sk = :a") == "Query condition missed key schema element: pk"
    assert error_of("pk < :p") == "Query key condition not supported"
    assert error_of("begins_with(pk, :prefix)") == "Query key condition not supported"


def test_conditions_on_other_attributes() -> None:
    assert error_of("pk = :p AND colour = :a") == "Query condition missed key schema element: sk"
    assert error_of("pk = :p AND colour = :a", sort_key=None) == "Query key condition not supported"
    assert error_of("pk = :p AND sk = :a AND colour = :b") == "Query key condition not supported"


def test_one_condition_per_key() -> None:
    assert error_of("pk = :p AND sk > :a AND sk < :b") == (
        "KeyConditionExpressions must only contain one condition per key"
    )
    assert error_of("pk = :p AND pk = :p") == (
        "KeyConditionExpressions must only contain one condition per key"
    )


@pytest.mark.parametrize(
    ("text", "operator"),
    [
        ("pk = :p OR sk = :a", "OR"),
        ("NOT pk = :p", "NOT"),
        ("pk = :p AND sk <> :a", "<>"),
        ("pk = :p AND sk IN (:a, :b)", "IN"),
        ("pk = :p AND attribute_exists(sk)", "attribute_exists"),
        ("pk = :p AND contains(sk, :a)", "contains"),
        ("pk = :p AND size(sk) > :a", "size"),
    ],
)
def test_only_and_and_the_sort_operators_are_allowed(text: str, operator: str) -> None:
    assert error_of(text) == f"Invalid operator used in KeyConditionExpression: {operator}"


def test_each_condition_names_exactly_one_top_level_key() -> None:
    assert error_of("pk = sk") == (
        "Invalid condition in KeyConditionExpression: Multiple attribute names used in one "
        "condition"
    )
    assert error_of(":p = :a") == (
        "Invalid condition in KeyConditionExpression: No key attribute specified"
    )
    assert error_of("pk.x = :p") == (
        "KeyConditionExpressions cannot have conditions on nested attributes"
    )


def test_syntax_reserved_words_and_bounds() -> None:
    assert error_of("pk = :p AND") == (
        'Invalid KeyConditionExpression: Syntax error; token: "<EOF>", near: "AND"'
    )
    assert error_of("pk = :p AND date > :a") == (
        "Invalid KeyConditionExpression: Attribute name is a reserved keyword; "
        "reserved keyword: date"
    )
    assert "requires upper bound to be greater than or equal to lower bound" in error_of(
        "pk = :p AND sk BETWEEN :b AND :a"
    )
    assert "operator or function: begins_with, operand type: N" in error_of(
        "pk = :p AND begins_with(sk, :a)"
    )
