"""AWS IoT SQL (2016-03-23), the subset topic rules run locally: parsing, evaluation with
AWS's Undefined, substitution templates, and the refusal of what is not supported."""

from __future__ import annotations

import json

import pytest

from sluiceway.core.errors import ValidationError
from sluiceway.iot.rule_sql import Message, check_template, parse, substitute


def message(payload: object, topic: str = "sensors/dev-7/data") -> Message:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Message(topic, raw, timestamp_ms=1_700_000_000_123)


def test_select_star_gives_the_payload_and_the_filter_is_kept() -> None:
    query = parse("SELECT * FROM 'sensors/+/data'")
    assert query.topic_filter == "sensors/+/data"
    assert query.evaluate(message({"t": 21, "unit": "C"})) == {"t": 21, "unit": "C"}


def test_select_items_aliases_nested_attributes_and_functions() -> None:
    query = parse(
        "select t, state.reported.color, state.reported.color AS c, readings[1] AS second, "
        "topic() AS full, topic(2) AS device, timestamp() AS ts, clientid() "
        "from 'sensors/#'"
    )
    result = query.evaluate(
        message({"t": 1, "state": {"reported": {"color": "red"}}, "readings": [4, 5]})
    )
    assert result == {
        "t": 1,
        "color": "red",
        "c": "red",
        "second": 5,
        "full": "sensors/dev-7/data",
        "device": "dev-7",
        "ts": 1_700_000_000_123,
        "clientid": "n/a",
    }


def test_star_merges_with_other_items_and_undefined_is_left_out() -> None:
    query = parse("SELECT *, topic(2) AS device, missing.deep AS m, topic(9) AS nine FROM 'a/+'")
    assert query.evaluate(message({"x": 1}, "a/b")) == {"x": 1, "device": "b"}


@pytest.mark.parametrize(
    ("where", "payload", "holds"),
    [
        ("temperature > 30", {"temperature": 31}, True),
        ("temperature > 30", {"temperature": 30}, False),
        ("temperature >= 30", {"temperature": 30}, True),
        ("temperature < 30.5", {"temperature": 30.4}, True),
        ("temperature <= -1", {"temperature": -1}, True),
        ("temperature > 30", {"temperature": "31"}, True),  # a numeric string compares
        ("temperature > 30", {"temperature": "hot"}, False),  # Undefined
        ("temperature > 30", {}, False),  # Undefined attribute
        ("status = 'on'", {"status": "on"}, True),
        ('status = "on"', {"status": "on"}, True),
        ("status <> 'on'", {"status": "off"}, True),
        ("status != 'on'", {"status": "on"}, False),
        ("status = 1", {"status": "1"}, False),  # different types: Undefined
        ("status <> 1", {"status": "1"}, False),  # Undefined too, not true
        ("a.b = 2 AND c = 'x'", {"a": {"b": 2}, "c": "x"}, True),
        ("a.b = 2 AND c = 'x'", {"a": {"b": 2}, "c": "y"}, False),
        ("a = 1 OR b = 2", {"a": 0, "b": 2}, True),
        ("NOT a = 1", {"a": 2}, True),
        ("NOT (a = 1 OR b = 2)", {"a": 1}, False),
        ("NOT missing = 1", {}, False),  # NOT Undefined is Undefined
        ("flag = true", {"flag": True}, True),
        ("flag", {"flag": "TRUE"}, True),  # the string "true" is a boolean operand
        ("value = null", {"value": None}, True),
        ("topic(2) = 'dev-7'", {}, True),
        ("name > 'b'", {"name": "c"}, True),
    ],
)
def test_where(where: str, payload: dict[str, object], holds: bool) -> None:
    query = parse(f"SELECT * FROM 'sensors/+/data' WHERE {where}")
    assert (query.evaluate(message(payload)) is not None) is holds


def test_and_binds_tighter_than_or() -> None:
    query = parse("SELECT * FROM 't' WHERE a = 1 OR a = 2 AND b = 3")
    assert query.evaluate(message({"a": 1, "b": 0}, "t")) is not None
    assert query.evaluate(message({"a": 2, "b": 0}, "t")) is None


def test_a_payload_that_is_not_json() -> None:
    assert parse("SELECT * FROM 't'").evaluate(message(b"\x00raw", "t")) == b"\x00raw"
    selected = parse("SELECT topic() AS t, x FROM 't'").evaluate(message(b"raw", "t"))
    assert selected == {"t": "t"}
    assert parse("SELECT * FROM 't' WHERE x = 1").evaluate(message(b"raw", "t")) is None


def test_reserved_topics_and_double_quoted_filters() -> None:
    query = parse('SELECT * FROM "$aws/things/MyIotThing/*"')
    assert query.topic_filter == "$aws/things/MyIotThing/*"


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT temperature * 2 AS t FROM 'a'", "arithmetic"),
        ("SELECT * FROM 'a' WHERE t + 1 > 2", "arithmetic"),
        ("SELECT upper(name) AS n FROM 'a'", "function upper()"),
        ("SELECT * FROM 'a' WHERE name LIKE 'x%'", "LIKE"),
        ("SELECT * FROM 'a' WHERE x IN (1, 2)", "IN"),
        ("SELECT * FROM 'a' WHERE x IS NULL", "IS"),
        ("SELECT CASE x WHEN 1 THEN 2 END AS y FROM 'a'", "CASE"),
        ("SELECT DISTINCT x FROM 'a'", "DISTINCT"),
        ("SELECT *", "FROM"),
        ("SELECT * FROM a", "quoted topic filter"),
        ("SELECT * FROM 'a/#/b'", "'#' must be a whole level and the last one"),
        ("SELECT * FROM 'a' WHERE 1 < x < 3", "chained"),
        ("SELECT 'x' FROM 'a'", "AS"),
        ("SELECT * FROM 'a' ORDER BY x", "'ORDER' is not supported"),
        ("SELECT topic('a') AS t FROM 'a'", "topic()"),
        ("DELETE FROM 'a'", "starts with SELECT"),
        ("", "needs its SQL"),
    ],
)
def test_unsupported_or_malformed_sql_is_refused_by_name(sql: str, named: str) -> None:
    with pytest.raises(ValidationError, match=None) as raised:
        parse(sql)
    assert named in str(raised.value)


def test_substitution_templates() -> None:
    received = message({"id": "e-1", "n": 3}, "topics/ThingsGroupOne/TestThing")
    assert substitute("${topic(3)}", received) == "TestThing"
    assert substitute("${timestamp()}", received) == "1700000000123"
    assert substitute("out/${topic()}/${id}-${n}${missing}", received) == (
        "out/topics/ThingsGroupOne/TestThing/e-1-3"
    )
    assert check_template("plain") == "plain"
    with pytest.raises(ValidationError, match="function lower"):
        check_template("${lower(topic())}")
