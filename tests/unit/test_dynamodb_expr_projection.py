"""ProjectionExpression: which parts of an item a read returns."""

from __future__ import annotations

from typing import Any

import pytest

from sluiceway.core.errors import ValidationError
from sluiceway.dynamodb.expressions import Usage, parse_projection

ITEM: dict[str, Any] = {
    "id": {"S": "a"},
    "n": {"N": "5"},
    "doc": {
        "M": {
            "x": {"N": "1"},
            "y": {"L": [{"N": "0"}, {"M": {"z": {"S": "q"}, "w": {"S": "r"}}}]},
        }
    },
    "seq": {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}]},
}


def project(text: str, names: Any = None) -> Any:
    return parse_projection(text, names).apply(ITEM)


def error_of(text: str, names: Any = None) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_projection(text, names)
    return str(caught.value)


def test_top_level_attributes() -> None:
    assert project("id, n") == {"id": {"S": "a"}, "n": {"N": "5"}}
    assert project("n, absent") == {"n": {"N": "5"}}


def test_nested_map_keys_stay_in_place() -> None:
    assert project("doc.x") == {"doc": {"M": {"x": {"N": "1"}}}}
    assert project("doc.y[1].z, n") == {
        "doc": {"M": {"y": {"L": [{"M": {"z": {"S": "q"}}}]}}},
        "n": {"N": "5"},
    }


def test_list_elements_keep_their_order_and_close_up() -> None:
    assert project("seq[2], seq[0]") == {"seq": {"L": [{"N": "0"}, {"N": "2"}]}}
    assert project("seq[1]") == {"seq": {"L": [{"N": "1"}]}}


def test_paths_that_lead_nowhere_select_nothing() -> None:
    assert project("doc.nope") == {}
    assert project("seq[7]") == {}
    assert project("n.x") == {}
    assert project("doc[0]") == {}
    assert project("seq.x") == {}


def test_names_and_usage() -> None:
    usage = Usage()
    names = {"#d": "doc", "#s": "size"}
    projection = parse_projection("#d.x, #s", names, usage)
    assert projection.apply(ITEM) == {"doc": {"M": {"x": {"N": "1"}}}}
    usage.check(names, None)
    assert error_of("#q") == (
        "Invalid ProjectionExpression: An expression attribute name used in the document path "
        "is not defined; attribute name: #q"
    )


def test_overlapping_and_conflicting_paths_are_rejected() -> None:
    assert error_of("n, n") == (
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove "
        "or rewrite one of these paths; path one: [n], path two: [n]"
    )
    assert "path one: [doc], path two: [doc, x]" in error_of("doc, doc.x")
    assert "path one: [doc, x], path two: [doc]" in error_of("doc.x, doc")
    assert error_of("seq[0], seq.x") == (
        "Invalid ProjectionExpression: Two document paths conflict with each other; must remove "
        "or rewrite one of these paths; path one: [seq, [0]], path two: [seq, x]"
    )


def test_reserved_words_syntax_and_size() -> None:
    assert error_of("name") == (
        "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name"
    )
    assert error_of("id,, n") == (
        'Invalid ProjectionExpression: Syntax error; token: ",", near: ",, n"'
    )
    syntax = 'Invalid ProjectionExpression: Syntax error; token: "{}", near: "{}"'
    assert error_of("id n") == syntax.format("n", "id n")
    assert error_of(":v") == 'Invalid ProjectionExpression: Syntax error; token: ":v", near: ":v"'
    assert error_of(" ") == "Invalid ProjectionExpression: The expression can not be empty;"
    assert "maximum allowed size" in error_of(", ".join(f"a{i}" for i in range(1000)))
