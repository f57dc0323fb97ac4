from __future__ import annotations

import base64
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sluiceway.core import attrvalue
from sluiceway.core.errors import ValidationError


def test_python_values_become_attribute_values() -> None:
    item = {
        "s": "x",
        "n": 5,
        "f": 1.5,
        "d": Decimal("12.50"),
        "b": b"\x00\x01",
        "t": True,
        "none": None,
        "l": [1, "a"],
        "m": {"k": "v"},
        "ss": {"b", "a"},
        "ns": {3, 1},
    }
    assert attrvalue.serialize_item(item) == {
        "s": {"S": "x"},
        "n": {"N": "5"},
        "f": {"N": "1.5"},
        "d": {"N": "12.5"},
        "b": {"B": base64.b64encode(b"\x00\x01").decode()},
        "t": {"BOOL": True},
        "none": {"NULL": True},
        "l": {"L": [{"N": "1"}, {"S": "a"}]},
        "m": {"M": {"k": {"S": "v"}}},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "3"]},
    }


def test_attribute_values_come_back_as_boto3_returns_them() -> None:
    image = {"id": {"N": "101"}, "msg": {"S": "New item!"}, "tags": {"SS": ["x"]}}
    assert attrvalue.deserialize_item(image) == {
        "id": Decimal(101),
        "msg": "New item!",
        "tags": {"x"},
    }


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("1.0", "1"),
        ("0100", "100"),
        ("1E+2", "100"),
        ("-0.000120", "-0.00012"),
        ("0", "0"),
        ("-0", "0"),
        ("123.4500", "123.45"),
        ("1E+125", "1E+125"),
        ("1E-130", "1E-130"),
    ],
)
def test_numbers_are_normalized_as_dynamodb_stores_them(given: str, stored: str) -> None:
    assert attrvalue.normalize_number(given) == stored


@pytest.mark.parametrize(
    "bad", ["NaN", "Infinity", "1E+126", "1E-131", "1" * 39, "abc", "1_000", " 1", float("nan")]
)
def test_numbers_outside_dynamodb_limits_are_refused(bad: object) -> None:
    with pytest.raises(ValidationError):
        attrvalue.normalize_number(bad)  # type: ignore[arg-type]


def test_empty_sets_and_mixed_sets_are_refused() -> None:
    with pytest.raises(ValidationError, match="empty sets"):
        attrvalue.serialize(set())
    with pytest.raises(ValidationError, match="only strings"):
        attrvalue.serialize({"a", 1})


def test_unknown_python_types_are_refused_with_their_path() -> None:
    with pytest.raises(ValidationError, match=r"item\.when: a object cannot be stored"):
        attrvalue.serialize_item({"when": object()})


def test_wire_values_are_checked() -> None:
    assert attrvalue.validate_attribute_value({"N": "01.50"}) == {"N": "1.5"}
    for bad in ({"N": 5}, {"S": 1}, {"X": "y"}, {"SS": []}, {"B": "***"}, {"NULL": False}, {}):
        with pytest.raises(ValidationError):
            attrvalue.validate_attribute_value(bad)


def test_item_size_counts_names_and_values() -> None:
    assert attrvalue.item_size({"ab": {"S": "xyz"}}) == 5
    assert attrvalue.item_size({"flag": {"BOOL": True}}) == 5


finite = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: d.is_zero() or Decimal("1E-120") < abs(d) < Decimal("1E+120")
)


@given(st.lists(finite, min_size=2, max_size=8))
def test_number_key_bytes_sort_in_numeric_order(numbers: list[Decimal]) -> None:
    normalized = []
    for n in numbers:
        try:
            normalized.append(Decimal(attrvalue.normalize_number(n)))
        except ValidationError:
            continue
    by_bytes = sorted(normalized, key=lambda d: attrvalue.key_bytes({"N": str(d)}, "N"))
    assert by_bytes == sorted(normalized)


@given(st.lists(st.text(min_size=1), min_size=2, max_size=8))
def test_string_key_bytes_sort_by_utf8_as_dynamodb_does(texts: list[str]) -> None:
    by_bytes = sorted(texts, key=lambda t: attrvalue.key_bytes({"S": t}, "S"))
    assert by_bytes == sorted(texts, key=lambda t: t.encode())


def test_equal_numbers_have_equal_keys() -> None:
    assert attrvalue.key_bytes({"N": "1.50"}, "N") == attrvalue.key_bytes({"N": "1.5"}, "N")
