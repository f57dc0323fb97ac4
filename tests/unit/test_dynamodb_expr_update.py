"""UpdateExpression: each clause and function, DynamoDB's evaluation order, its errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sluiceway.core.errors import ValidationError
from sluiceway.dynamodb.expressions import Usage, parse_update

ITEM: dict[str, Any] = {
    "id": {"S": "a"},
    "n": {"N": "5"},
    "word": {"S": "hi"},
    "doc": {"M": {"nest": {"M": {"leaf": {"N": "1"}}}, "seq": {"L": [{"S": "q"}]}}},
    "seq": {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}, {"N": "3"}]},
    "tags": {"SS": ["red", "blue"]},
    "scores": {"NS": ["1", "2"]},
    "bins": {"BS": ["AQ==", "Ag=="]},
}

VALUES: dict[str, Any] = {
    ":one": {"N": "1"},
    ":half": {"N": "0.5"},
    ":x": {"S": "x"},
    ":green": {"SS": ["green", "red"]},
    ":red": {"SS": ["red"]},
    ":both": {"SS": ["red", "blue"]},
    ":nums": {"NS": ["2.0", "3"]},
    ":bins": {"BS": ["Aw==", "AQ=="]},
    ":tail": {"L": [{"S": "t"}]},
    ":map": {"M": {"k": {"S": "v"}}},
    ":huge": {"N": "9E+125"},
    ":tiny": {"N": "1E-130"},
    ":tinier": {"N": "1.1E-130"},
    ":long": {"N": "12345678901234567890123456789012345678"},
}


def apply(text: str, item: dict[str, Any] | None = ITEM, names: Any = None, **kw: Any) -> Any:
    return parse_update(text, names, VALUES).apply(item, **kw)


def error_of(text: str, item: dict[str, Any] | None = ITEM, **kw: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        apply(text, item, **kw)
    return str(caught.value)


# -- SET --------------------------------------------------------------------------------------


def test_set_writes_top_level_and_nested_attributes() -> None:
    new = apply("SET word = :x, doc.nest.leaf = :one, doc.added = :map, fresh = :x")
    assert new["word"] == {"S": "x"}
    assert new["fresh"] == {"S": "x"}
    assert new["doc"]["M"]["nest"]["M"]["leaf"] == {"N": "1"}
    assert new["doc"]["M"]["added"] == {"M": {"k": {"S": "v"}}}


def test_set_replaces_a_list_element_or_appends_past_the_end() -> None:
    new = apply("SET seq[1] = :x, seq[99] = :one")
    assert new["seq"]["L"] == [{"N": "0"}, {"S": "x"}, {"N": "2"}, {"N": "3"}, {"N": "1"}]


def test_set_arithmetic() -> None:
    assert apply("SET n = n + :one")["n"] == {"N": "6"}
    assert apply("SET n = n - :half")["n"] == {"N": "4.5"}
    assert apply("SET m = :one - n")["m"] == {"N": "-4"}
    assert apply("SET n = n + :one + :one")["n"] == {"N": "7"}
    assert apply("SET n = n+:one")["n"] == {"N": "6"}


def test_set_if_not_exists() -> None:
    assert apply("SET n = if_not_exists(n, :one)")["n"] == {"N": "5"}
    assert apply("SET c = if_not_exists(c, :one)")["c"] == {"N": "1"}
    assert apply("SET c = if_not_exists(c, :half) + :one")["c"] == {"N": "1.5"}
    assert apply("SET c = if_not_exists(doc.nest.leaf, :half)")["c"] == {"N": "1"}


def test_set_list_append() -> None:
    assert apply("SET seq = list_append(seq, :tail)")["seq"]["L"][-1] == {"S": "t"}
    assert apply("SET seq = list_append(:tail, seq)")["seq"]["L"][0] == {"S": "t"}
    new = apply("SET fresh = list_append(if_not_exists(fresh, :tail), :tail)")
    assert new["fresh"] == {"L": [{"S": "t"}, {"S": "t"}]}


def test_every_operand_reads_the_item_as_it_was_before_the_update() -> None:
    new = apply("SET n = :one, dup = n")
    assert new["n"] == {"N": "1"}
    assert new["dup"] == {"N": "5"}


def test_the_input_item_is_not_mutated() -> None:
    before = copy.deepcopy(ITEM)
    apply("SET doc.nest.leaf = :x, seq[0] = :x REMOVE tags ADD scores :nums DELETE bins :bins")
    assert before == ITEM


def test_an_update_of_no_item_starts_from_an_empty_one() -> None:
    assert apply("SET a = :one ADD b :one", item=None) == {"a": {"N": "1"}, "b": {"N": "1"}}


def test_set_reading_a_missing_attribute_is_an_error() -> None:
    assert error_of("SET n = nope + :one") == (
        "The provided expression refers to an attribute that does not exist in the item"
    )


def test_arithmetic_and_list_append_need_the_right_types() -> None:
    assert error_of("SET n = word + :one") == (
        "An operand in the update expression has an incorrect data type"
    )
    assert error_of("SET n = list_append(n, :tail)") == (
        "An operand in the update expression has an incorrect data type"
    )
    assert error_of("SET n = n + :x") == (
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator or function: +, operand type: S"
    )
    assert error_of("SET n = list_append(:x, seq)") == (
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator or function: list_append, operand type: S"
    )


def test_arithmetic_respects_dynamodb_number_limits() -> None:
    assert error_of("SET n = :huge + :huge") == (
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    )
    assert error_of("SET n = :tinier - :tiny") == (
        "Number underflow. Attempting to store a number with magnitude smaller than supported range"
    )
    with pytest.raises(ValidationError, match="more than 38 significant digits"):
        apply("SET n = :long + :half")


def test_zero_is_a_valid_result() -> None:
    assert apply("SET n = :one - :one")["n"] == {"N": "0"}


# -- REMOVE -----------------------------------------------------------------------------------


def test_remove_attributes_map_keys_and_list_elements() -> None:
    new = apply("REMOVE word, doc.nest, seq[0], seq[2], absent, seq[10], doc.nope")
    assert "word" not in new
    assert "nest" not in new["doc"]["M"]
    assert new["seq"]["L"] == [{"N": "1"}, {"N": "3"}]


def test_remove_under_a_missing_or_scalar_parent_is_invalid() -> None:
    invalid = "The document path provided in the update expression is invalid for update"
    assert error_of("REMOVE absent.child") == invalid
    assert error_of("REMOVE n.child") == invalid
    assert error_of("REMOVE word[0]") == invalid


# -- ADD and DELETE ---------------------------------------------------------------------------


def test_add_increments_numbers_and_creates_them() -> None:
    assert apply("ADD n :one")["n"] == {"N": "6"}
    assert apply("ADD hits :half")["hits"] == {"N": "0.5"}
    assert apply("ADD doc.nest.leaf :one")["doc"]["M"]["nest"]["M"]["leaf"] == {"N": "2"}


def test_add_unions_sets_and_creates_them() -> None:
    assert apply("ADD tags :green")["tags"] == {"SS": ["red", "blue", "green"]}
    assert apply("ADD scores :nums")["scores"] == {"NS": ["1", "2", "3"]}
    assert apply("ADD bins :bins")["bins"] == {"BS": ["AQ==", "Ag==", "Aw=="]}
    assert apply("ADD fresh :red")["fresh"] == {"SS": ["red"]}


def test_add_rejects_other_types() -> None:
    assert error_of("ADD word :x") == (
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator: ADD, operand type: STRING"
    )
    assert "operator: ADD, operand type: MAP" in error_of("ADD n :map")
    assert error_of("ADD word :one") == (
        "An operand in the update expression has an incorrect data type"
    )
    assert error_of("ADD tags :nums") == (
        "An operand in the update expression has an incorrect data type"
    )


def test_delete_removes_set_members_and_an_emptied_set() -> None:
    assert apply("DELETE tags :red")["tags"] == {"SS": ["blue"]}
    assert apply("DELETE scores :nums")["scores"] == {"NS": ["1"]}
    assert "tags" not in apply("DELETE tags :both")
    assert "absent" not in apply("DELETE absent :red")


def test_delete_needs_a_set_of_the_same_type() -> None:
    assert error_of("DELETE n :one") == (
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator: DELETE, operand type: NUMBER"
    )
    assert error_of("DELETE scores :red") == (
        "An operand in the update expression has an incorrect data type"
    )


# -- the expression as a whole ----------------------------------------------------------------


def test_all_four_clauses_in_any_order_and_case() -> None:
    new = apply("delete tags :red add n :one remove word set fresh = :x")
    assert new["tags"] == {"SS": ["blue"]}
    assert new["n"] == {"N": "6"}
    assert "word" not in new
    assert new["fresh"] == {"S": "x"}


def test_updated_names_the_top_level_attributes_touched() -> None:
    update = parse_update("SET doc.nest.leaf = :one, a = :x REMOVE seq[0] ADD n :one", None, VALUES)
    assert update.updated == frozenset({"doc", "a", "seq", "n"})
    assert update.paths == (("doc", "nest", "leaf"), ("a",), ("seq", 0), ("n",))


def test_a_clause_may_be_used_only_once() -> None:
    assert error_of("SET a = :x REMOVE b SET c = :x") == (
        'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;'
    )
    assert '"REMOVE" section' in error_of("REMOVE a remove b")


def test_overlapping_and_conflicting_paths_are_rejected() -> None:
    assert error_of("SET a = :x, a.b = :x") == (
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
        "rewrite one of these paths; path one: [a], path two: [a, b]"
    )
    assert "path one: [a, b], path two: [a]" in error_of("SET a.b = :x REMOVE a")
    assert "path one: [n], path two: [n]" in error_of("SET n = :one ADD n :one")
    assert error_of("SET seq[0] = :x REMOVE seq.x") == (
        "Invalid UpdateExpression: Two document paths conflict with each other; must remove or "
        "rewrite one of these paths; path one: [seq, [0]], path two: [seq, x]"
    )
    names = {"#a": "a"}
    assert "overlap" in error_of("SET #a = :x, a = :x", names=names)
    assert apply("SET seq[0] = :x, seq[1] = :x, doc.x = :x, doc.y = :x")["doc"]["M"]["y"]


def test_a_path_into_a_missing_map_or_a_non_map_is_invalid() -> None:
    invalid = "The document path provided in the update expression is invalid for update"
    assert error_of("SET absent.child = :x") == invalid
    assert error_of("SET word.child = :x") == invalid
    assert error_of("SET doc[0] = :x") == invalid
    assert error_of("ADD absent.child :one") == invalid


def test_key_attributes_cannot_be_updated() -> None:
    message = (
        "One or more parameter values were invalid: Cannot update attribute id. "
        "This attribute is part of the key"
    )
    assert error_of("SET id = :x", key_names=("id",)) == message
    assert error_of("REMOVE id", key_names=("id", "sk")) == message
    assert apply("SET id = :x")["id"] == {"S": "x"}


def test_functions_outside_updates_are_rejected() -> None:
    assert error_of("SET n = size(seq)") == (
        "Invalid UpdateExpression: The function is not allowed in an update expression; "
        "function: size"
    )
    assert "function: attribute_exists" in error_of("SET n = attribute_exists(n)")
    assert error_of("SET n = bogus(n)") == (
        "Invalid UpdateExpression: Invalid function name; function: bogus"
    )
    assert error_of("SET n = if_not_exists(:one, :one)") == (
        "Invalid UpdateExpression: Operator or function requires a document path; "
        "operator or function: if_not_exists"
    )
    assert "number of operands: 3" in error_of("SET n = list_append(seq, seq, seq)")


@pytest.mark.parametrize(
    ("text", "token", "near"),
    [
        ("SET", "<EOF>", "SET"),
        ("SET a :x", ":x", "a :x"),
        ("SET a = :x,", "<EOF>", ","),
        ("UPSERT a = :x", "UPSERT", "UPSERT a"),
        ("REMOVE a b", "b", "a b"),
        ("ADD a b", "b", "a b"),
        ("SET a = :x * :x", "*", ":x * :x"),
    ],
)
def test_syntax_errors(text: str, token: str, near: str) -> None:
    assert error_of(text) == (
        f'Invalid UpdateExpression: Syntax error; token: "{token}", near: "{near}"'
    )


def test_reserved_words_and_placeholders() -> None:
    assert error_of("SET value = :x") == (
        "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: value"
    )
    usage = Usage()
    names = {"#v": "value"}
    new = parse_update("SET #v = :x", names, VALUES, usage).apply(ITEM)
    assert new["value"] == {"S": "x"}
    with pytest.raises(ValidationError, match=r"unused in expressions: keys: \{:one, "):
        usage.check(names, VALUES)
    with pytest.raises(ValidationError, match="attribute value: :nope"):
        parse_update("SET a = :nope", None, VALUES)


def test_empty_and_oversized_updates_are_rejected() -> None:
    assert error_of("") == "Invalid UpdateExpression: The expression can not be empty;"
    text = "SET " + ", ".join(f"a{i} = :x" for i in range(600))
    assert error_of(text) == (
        "Invalid UpdateExpression: Expression size has exceeded the maximum allowed size"
    )


def test_an_update_that_grows_the_item_past_400_kb_is_rejected() -> None:
    values = {":big": {"S": "x" * 300_000}}
    update = parse_update("SET a = :big, b = :big", None, values)
    with pytest.raises(ValidationError, match="Item size to update has exceeded"):
        update.apply(None)
