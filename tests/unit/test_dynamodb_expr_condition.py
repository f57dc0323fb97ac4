"""ConditionExpression and FilterExpression: the grammar, DynamoDB's semantics, its errors."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from sluiceway.core.errors import ValidationError
from sluiceway.dynamodb.expressions import (
    Usage,
    parse_condition,
    parse_filter,
    value_of,
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


ITEM: dict[str, Any] = {
    "id": {"S": "order-1"},
    "n": {"N": "5"},
    "price": {"N": "12.50"},
    "bin": {"B": b64(b"\x01\x02\x03")},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "tags": {"SS": ["red", "blue"]},
    "scores": {"NS": ["1", "2.5"]},
    "blobs": {"BS": [b64(b"a"), b64(b"b")]},
    "seq": {"L": [{"S": "first"}, {"N": "2"}, {"M": {"deep": {"S": "x"}}}]},
    "doc": {"M": {"nest": {"M": {"leaf": {"N": "7"}}}, "word": {"S": "hello"}}},
    "odd name": {"S": "spaces"},
}

VALUES: dict[str, Any] = {
    ":five": {"N": "5.000"},
    ":six": {"N": "6"},
    ":one": {"N": "1"},
    ":two": {"N": "2"},
    ":order": {"S": "order"},
    ":id": {"S": "order-1"},
    ":red": {"S": "red"},
    ":blob": {"B": b64(b"\x01\x02\x03")},
    ":blob_prefix": {"B": b64(b"\x01")},
    ":true": {"BOOL": True},
    ":tags": {"SS": ["blue", "red"]},
    ":scores": {"NS": ["2.50", "1"]},
    ":list": {"L": [{"S": "first"}, {"N": "2.0"}, {"M": {"deep": {"S": "x"}}}]},
    ":map": {"M": {"leaf": {"N": "7"}}},
    ":t_ss": {"S": "SS"},
    ":t_n": {"S": "N"},
    ":t_bad": {"S": "STRING"},
    ":hello": {"S": "hello"},
    ":ell": {"S": "ell"},
}


def holds(text: str, item: dict[str, Any] | None = ITEM, names: Any = None) -> bool:
    return parse_condition(text, names, VALUES).evaluate(item)


def error_of(text: str, names: Any = None, values: Any = VALUES, **kw: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_condition(text, names, values, **kw)
    return str(caught.value)


# -- comparisons ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n = :five", True),
        ("n <> :five", False),
        ("n < :six", True),
        ("n <= :five", True),
        ("n > :five", False),
        ("n >= :five", True),
        ("price > :six", True),
        ("id = :id", True),
        ("id > :order", True),
        ("id < :order", False),
        ("bin = :blob", True),
        ("bin > :blob_prefix", True),
        ("flag = :true", True),
        ("tags = :tags", True),
        ("scores = :scores", True),
        ("seq = :list", True),
        ("doc.nest = :map", True),
        (":five = n", True),
        (":one < n", True),
    ],
)
def test_comparison_follows_dynamodb_semantics(text: str, expected: bool) -> None:
    assert holds(text) is expected


def test_values_of_different_types_are_never_equal_and_never_ordered() -> None:
    assert holds("id = :five") is False
    assert holds("id <> :five") is True
    assert holds("id < :five") is False
    assert holds("id >= :five") is False


def test_a_missing_attribute_equals_nothing_and_differs_from_everything() -> None:
    assert holds("absent = :five") is False
    assert holds("absent <> :five") is True
    assert holds("absent < :five") is False
    assert holds("n = :five", item=None) is False


def test_strings_order_by_utf8_bytes() -> None:
    item = {"s": {"S": "\uffff"}}
    values = {":s": {"S": "\U0001f600"}}
    assert parse_condition("s < :s", None, values).evaluate(item) is True


def test_comparison_of_two_paths() -> None:
    assert holds("n < price") is True
    assert holds("doc.nest.leaf > n") is True


# -- BETWEEN and IN ---------------------------------------------------------------------------


def test_between_is_inclusive() -> None:
    assert holds("n BETWEEN :five AND :six") is True
    assert holds("n BETWEEN :one AND :five") is True
    assert holds("n between :one and :two") is False
    assert holds("id BETWEEN :one AND :two") is False


def test_between_checks_its_bounds_when_both_are_values() -> None:
    assert error_of("n BETWEEN :six AND :one") == (
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater "
        "than or equal to lower bound; lower operand: AttributeValue: {N:6}, "
        "upper operand: AttributeValue: {N:1}"
    )
    assert "requires same data type for lower and upper bounds" in error_of(
        "n BETWEEN :one AND :order"
    )


def test_in_matches_any_operand() -> None:
    assert holds("n IN (:one, :five)") is True
    assert holds("n in (:one, :two)") is False
    assert holds("id IN (:id)") is True
    assert holds("n IN (:one, price, n2)") is False


def test_in_accepts_at_most_100_operands() -> None:
    values = {f":v{i}": {"N": str(i)} for i in range(101)}
    text = "n IN (" + ", ".join(values) + ")"
    with pytest.raises(ValidationError, match="number of operands: 101"):
        parse_condition(text, None, values)
    hundred = dict(list(values.items())[:100])
    condition = parse_condition("n IN (" + ", ".join(hundred) + ")", None, hundred)
    assert condition.evaluate(ITEM) is True


# -- logic ------------------------------------------------------------------------------------


def test_and_binds_tighter_than_or_and_not_tighter_than_and() -> None:
    assert holds("n = :one AND n = :one OR n = :five") is True
    assert holds("n = :five OR n = :one AND n = :one") is True
    assert holds("(n = :five OR n = :one) AND n = :one") is False
    assert holds("NOT n = :one AND n = :five") is True
    assert holds("NOT (n = :five AND id = :id)") is False
    assert holds("not not n = :five") is True


def test_keywords_are_case_insensitive() -> None:
    assert holds("n = :five aNd NoT id = :order Or n = :one") is True


# -- functions --------------------------------------------------------------------------------


def test_attribute_exists_and_not_exists() -> None:
    assert holds("attribute_exists(n)") is True
    assert holds("attribute_exists(doc.nest.leaf)") is True
    assert holds("attribute_exists(seq[2].deep)") is True
    assert holds("attribute_exists(seq[3])") is False
    assert holds("attribute_not_exists(doc.nope)") is True
    assert holds("attribute_not_exists(id)", item=None) is True
    assert holds("attribute_exists(id)", item=None) is False


def test_attribute_type() -> None:
    assert holds("attribute_type(tags, :t_ss)") is True
    assert holds("attribute_type(doc.nest.leaf, :t_n)") is True
    assert holds("attribute_type(id, :t_n)") is False
    assert holds("attribute_type(absent, :t_n)") is False


def test_attribute_type_rejects_an_unknown_type_name() -> None:
    assert error_of("attribute_type(id, :t_bad)") == (
        "Invalid ConditionExpression: Invalid attribute type name found; type: STRING, "
        "valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }"
    )


def test_begins_with_strings_and_binaries() -> None:
    assert holds("begins_with(id, :order)") is True
    assert holds("begins_with(doc.word, :ell)") is False
    assert holds("begins_with(bin, :blob_prefix)") is True
    assert holds("begins_with(n, :order)") is False
    assert holds("begins_with(absent, :order)") is False


def test_begins_with_rejects_a_number_operand() -> None:
    assert error_of("begins_with(id, :one)") == (
        "Invalid ConditionExpression: Incorrect operand type for operator or function; "
        "operator or function: begins_with, operand type: N"
    )


def test_contains_substrings_set_members_and_list_elements() -> None:
    assert holds("contains(doc.word, :ell)") is True
    assert holds("contains(tags, :red)") is True
    assert holds("contains(tags, :order)") is False
    assert holds("contains(scores, :one)") is True
    assert holds("contains(scores, :red)") is False
    assert holds("contains(seq, :two)") is True
    assert holds("contains(n, :five)") is False
    assert holds("contains(blobs, :blob)") is False


def test_size_of_each_type() -> None:
    assert holds("size(id) = :six") is False
    assert holds("size(doc.word) = :five") is True
    assert holds("size(bin) > :two") is True
    assert holds("size(tags) = :two") is True
    assert holds("size(seq) > :two") is True
    assert holds("size(doc) = :two") is True
    assert holds("size(n) = :one") is False
    assert holds("size(absent) <> :one") is True
    assert holds(":two < size(seq)") is True


def test_functions_used_the_wrong_way_are_rejected() -> None:
    not_this_way = (
        "Invalid ConditionExpression: The function is not allowed to be used this way in an "
        "expression; function: {}"
    )
    assert error_of("size(id)") == not_this_way.format("size")
    assert error_of("attribute_exists(id) = :one") == not_this_way.format("attribute_exists")
    assert error_of("n = if_not_exists(n, :one)") == not_this_way.format("if_not_exists")
    assert error_of("frobnicate(id)") == (
        "Invalid ConditionExpression: Invalid function name; function: frobnicate"
    )
    assert error_of("attribute_exists(:one)") == (
        "Invalid ConditionExpression: Operator or function requires a document path; "
        "operator or function: attribute_exists"
    )
    assert error_of("begins_with(id)") == (
        "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
        "operator or function: begins_with, number of operands: 1"
    )


def test_function_names_are_case_sensitive() -> None:
    assert "Invalid function name; function: Attribute_Exists" in error_of("Attribute_Exists(a)")


def test_an_operand_must_differ_from_the_first() -> None:
    assert error_of("n = n") == (
        "Invalid ConditionExpression: The first operand must be distinct from the remaining "
        "operands for this operator or function; operator: =, first operand: [n]"
    )
    assert "operator: IN" in error_of("n IN (:one, n)")


def test_ordering_operators_reject_unordered_value_types() -> None:
    assert error_of("n < :tags") == (
        "Invalid ConditionExpression: Incorrect operand type for operator or function; "
        "operator or function: <, operand type: SS"
    )
    assert "operator or function: BETWEEN, operand type: BOOL" in error_of(
        "n BETWEEN :true AND :one"
    )


# -- paths and names --------------------------------------------------------------------------


def test_names_stand_in_for_any_path_element() -> None:
    names = {"#o": "odd name", "#m": "doc", "#i": "nest"}
    assert holds("#o = :order", names=names) is False
    assert holds("attribute_exists(#o)", names=names) is True
    assert holds("#m.#i.leaf = :map", names=names) is False
    assert holds("size(#m.#i) = :one", names=names) is True


def test_value_of_walks_maps_and_lists() -> None:
    assert value_of(ITEM, ("seq", 2, "deep")) == {"S": "x"}
    assert value_of(ITEM, ("seq", 9)) is None
    assert value_of(ITEM, ("doc", 0)) is None
    assert value_of(ITEM, ("seq", "x")) is None
    assert value_of(None, ("id",)) is None


def test_reserved_words_must_go_through_names() -> None:
    assert error_of("status = :one") == (
        "Invalid ConditionExpression: Attribute name is a reserved keyword; "
        "reserved keyword: status"
    )
    assert "reserved keyword: Name" in error_of("doc.Name = :one")
    assert holds("#s = :one", names={"#s": "status"}) is False


def test_undefined_names_and_values_are_errors() -> None:
    assert error_of("#x = :one") == (
        "Invalid ConditionExpression: An expression attribute name used in the document path "
        "is not defined; attribute name: #x"
    )
    assert error_of("n = :nope") == (
        "Invalid ConditionExpression: An expression attribute value used in expression is not "
        "defined; attribute value: :nope"
    )


def test_a_document_path_has_at_most_32_levels() -> None:
    assert holds("a" + ".b" * 31 + " = :one") is False
    assert "nesting levels: 33" in error_of("a" + ".b" * 32 + " = :one")


# -- syntax errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "token", "near"),
    [
        ("n = = :one", "=", "= = :one"),
        ("n =", "<EOF>", "="),
        ("(n = :one", "<EOF>", ":one"),
        ("n = :one)", ")", ":one)"),
        ("n = :one n", "n", ":one n"),
        ("my-attr = :one", "-", "my-attr"),
        ("__typename = :one", "_", "__"),
        ("n = :one AND", "<EOF>", "AND"),
        ("n BETWEEN :one OR :two", "OR", ":one OR :two"),
        ("seq[x] = :one", "x", "[x]"),
        ("n ! :one", "!", "n ! :one"),
    ],
)
def test_syntax_errors_name_the_token_and_its_neighbours(text: str, token: str, near: str) -> None:
    assert error_of(text) == (
        f'Invalid ConditionExpression: Syntax error; token: "{token}", near: "{near}"'
    )


def test_filter_expressions_have_their_own_messages() -> None:
    with pytest.raises(ValidationError, match=r"^Invalid FilterExpression: Syntax error"):
        parse_filter("n = = :one", None, VALUES)
    assert parse_filter("n = :five", None, VALUES).evaluate(ITEM) is True


def test_empty_and_oversized_expressions_are_rejected() -> None:
    assert error_of("  ") == "Invalid ConditionExpression: The expression can not be empty;"
    big = " OR ".join(["n = :one"] * 400)
    assert error_of(big) == (
        "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size"
    )


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    assert "nested" in error_of("(" * 500 + "n = :one" + ")" * 500)
    assert holds("NOT " * 800 + "n = :five") is True


# -- usage ------------------------------------------------------------------------------------


def test_usage_reports_unused_names_and_values() -> None:
    usage = Usage()
    names = {"#n": "n", "#a": "a"}
    values = {":five": {"N": "5"}, ":b": {"S": "b"}}
    parse_condition("#n = :five", names, values, usage)
    with pytest.raises(ValidationError) as caught:
        usage.check(names, values)
    assert str(caught.value) == (
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a}"
    )
    usage.check({"#n": "n"}, {":five": {"N": "5"}})
    with pytest.raises(ValidationError) as caught:
        usage.check({"#n": "n"}, values)
    assert str(caught.value) == (
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:b}"
    )


def test_usage_is_shared_by_the_expressions_of_one_request() -> None:
    usage = Usage()
    values = {":a": {"S": "a"}, ":b": {"S": "b"}}
    parse_condition("x = :a", None, values, usage)
    parse_filter("y = :b", None, values, usage)
    usage.check(None, values)


def test_usage_rejects_empty_or_malformed_placeholder_maps() -> None:
    usage = Usage()
    with pytest.raises(ValidationError, match="ExpressionAttributeNames must not be empty"):
        usage.check({}, None)
    with pytest.raises(ValidationError, match="ExpressionAttributeValues must not be empty"):
        usage.check(None, {})
    with pytest.raises(ValidationError, match='invalid key: Syntax error; key: "n"'):
        usage.check({"n": "n"}, None)
    with pytest.raises(ValidationError, match='invalid key: Syntax error; key: "v"'):
        usage.check(None, {"v": {"S": "x"}})


def test_malformed_values_are_validation_errors() -> None:
    with pytest.raises(ValidationError):
        parse_condition("n = :v", None, {":v": {"N": "not a number"}})
    with pytest.raises(ValidationError):
        parse_condition("n = :v", None, {":v": {"S": "a", "N": "1"}})
