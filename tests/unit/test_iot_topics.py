"""AWS IoT Core's publish rules (topics, QoS, message size) and MQTT topic-filter matching."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sluiceway.core.errors import ValidationError
from sluiceway.iot.rules import (
    MAX_MESSAGE_BYTES,
    TopicAllowlist,
    check_filter,
    check_payload,
    check_qos,
    check_topic,
    topic_matches,
)

# -- publish topics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic",
    [
        "MyTopic",
        "devices/DemoClient/inbox",
        "a/b/c/d/e/f/g/h",  # 7 slashes, 8 levels: the most IoT Core takes
        "/leading/and/trailing/",
        "a//empty/level",
        "spaces are fine",
        "ünïcødé/トピック",
        "x" * 256,
    ],
)
def test_a_valid_publish_topic_is_returned_as_given(topic: str) -> None:
    assert check_topic(topic) == topic


def test_a_topic_given_as_utf8_bytes_is_returned_as_text() -> None:
    assert check_topic("devices/トピック".encode()) == "devices/トピック"


@pytest.mark.parametrize(
    ("topic", "rule"),
    [
        ("", "is empty"),
        (b"", "is empty"),
        ("devices/+/inbox", "wildcards"),
        ("devices/#", "wildcards"),
        ("sport+", "wildcards"),
        ("$aws/things/thing/shadow/update", "reserved"),
        ("$SYS/broker/uptime", "reserved"),
        ("a/b/c/d/e/f/g/h/i", "8 forward slashes"),
        ("nul\x00inside", "U+0000"),
        ("tab\there", "U+0009"),
        ("line\nbreak", "U+000A"),
        ("delete\x7f", "U+007F"),
        ("c1\x85control", "U+0085"),
        (b"\xff\xfe", "not valid UTF-8"),
        (b"half-\xe3\x83", "not valid UTF-8"),
        ("lone-\ud800-surrogate", "not valid UTF-8"),
        (42, "must be a string"),
        (None, "must be a string"),
    ],
)
def test_a_topic_iot_core_refuses_is_rejected_naming_the_rule(topic: Any, rule: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(rule)) as refused:
        check_topic(topic)
    assert refused.value.code == "InvalidRequestException"


def test_topic_length_is_counted_in_utf8_bytes_not_characters() -> None:
    three_byte = "ト"  # U+30C8 is three bytes in UTF-8
    assert check_topic(three_byte * 85 + "a") == three_byte * 85 + "a"  # 256 bytes
    with pytest.raises(ValidationError, match="257 bytes"):
        check_topic(three_byte * 85 + "ab")  # 87 characters, 257 bytes
    with pytest.raises(ValidationError, match="258 bytes"):
        check_topic(three_byte * 86)  # 86 characters, 258 bytes


def test_a_topic_of_257_ascii_bytes_is_too_long() -> None:
    with pytest.raises(ValidationError, match="at most 256 bytes"):
        check_topic("x" * 257)


def test_a_four_byte_character_counts_four_bytes() -> None:
    emoji = "\N{SATELLITE ANTENNA}"
    assert check_topic(emoji * 64) == emoji * 64
    with pytest.raises(ValidationError, match="260 bytes"):
        check_topic(emoji * 65)


# -- QoS and message size ---------------------------------------------------------------------


@pytest.mark.parametrize("qos", [0, 1])
def test_qos_zero_and_one_are_accepted(qos: int) -> None:
    assert check_qos(qos) == qos


@pytest.mark.parametrize("qos", [2, -1, True, "1", 1.0, None])
def test_any_other_qos_is_refused_as_iot_core_has_no_qos_2(qos: Any) -> None:
    with pytest.raises(ValidationError, match="0 or 1"):
        check_qos(qos)


def test_a_payload_up_to_128_kb_with_its_topic_is_accepted() -> None:
    topic = "devices/DemoClient/inbox"
    payload = b"\x00" * (MAX_MESSAGE_BYTES - len(topic))
    assert check_payload(payload, topic=topic) is payload
    assert check_payload(b"") == b""


def test_a_payload_over_128_kb_is_too_large() -> None:
    with pytest.raises(ValidationError, match="131073 bytes") as refused:
        check_payload(b"x" * (MAX_MESSAGE_BYTES + 1))
    assert refused.value.code == "RequestEntityTooLargeException"


def test_the_topic_counts_toward_the_message_size_in_utf8_bytes() -> None:
    with pytest.raises(ValidationError, match="131074 bytes"):
        check_payload(b"x" * (MAX_MESSAGE_BYTES - 1), topic="ト")


# -- filters and matching (MQTT 3.1.1 section 4.7) ------------------------------------------


@pytest.mark.parametrize(
    ("topic_filter", "topic"),
    [
        ("sport/tennis/player1/#", "sport/tennis/player1"),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking"),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"),
        ("sport/#", "sport"),
        ("#", "sport/tennis/player1"),
        ("#", "/"),
        ("sport/tennis/+", "sport/tennis/player1"),
        ("sport/+", "sport/"),
        ("+/tennis/#", "sport/tennis/player1"),
        ("+/+", "/finance"),
        ("/+", "/finance"),
        ("+", "sport"),
        ("$SYS/#", "$SYS/broker/uptime"),
        ("$SYS/monitor/+", "$SYS/monitor/Clients"),
        ("MyTopic", "MyTopic"),
    ],
)
def test_a_topic_matches_the_filters_the_spec_says_it_matches(
    topic_filter: str, topic: str
) -> None:
    assert topic_matches(topic_filter, topic)


@pytest.mark.parametrize(
    ("topic_filter", "topic"),
    [
        ("sport/tennis/+", "sport/tennis/player1/ranking"),
        ("sport/+", "sport"),
        ("+", "/finance"),
        ("sport/tennis/player1/#", "sport/tennis"),
        ("#", "$SYS/broker/uptime"),
        ("+/monitor/Clients", "$SYS/monitor/Clients"),
        ("MyTopic", "mytopic"),  # topics are case-sensitive
        ("MyTopic", "MyTopic/"),
        ("a/b", "a"),
    ],
)
def test_a_topic_does_not_match_the_filters_the_spec_excludes(
    topic_filter: str, topic: str
) -> None:
    assert not topic_matches(topic_filter, topic)


@pytest.mark.parametrize("topic_filter", ["sport/tennis#", "sport/#/ranking", "sport+", "+a/b", ""])
def test_a_misplaced_wildcard_makes_a_filter_invalid(topic_filter: str) -> None:
    with pytest.raises(ValidationError):
        topic_matches(topic_filter, "sport/tennis")
    with pytest.raises(ValidationError):
        check_filter(topic_filter)


@pytest.mark.parametrize("topic_filter", ["devices/+/inbox", "#", "+", "a/b/c/d/e/f/g/#", "x"])
def test_a_well_formed_filter_is_returned_as_given(topic_filter: str) -> None:
    assert check_filter(topic_filter) == topic_filter


@pytest.mark.parametrize(
    ("topic_filter", "rule"),
    [
        ("$aws/things/+/shadow/update", "reserved"),
        ("a/b/c/d/e/f/g/h/#", "8 forward slashes"),
        ("devices/\x00/#", "U+0000"),
        ("+" + "/+" * 3 + "/" + "x" * 250, "at most 256 bytes"),
    ],
)
def test_a_filter_breaking_an_iot_topic_rule_is_rejected(topic_filter: str, rule: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(rule)):
        check_filter(topic_filter)


# -- the allowlist of declared topics ---------------------------------------------------------


@pytest.fixture
def allowlist() -> TopicAllowlist:
    return TopicAllowlist(["devices/+/inbox", "MyTopic", "fleet/#"])


@pytest.mark.parametrize(
    "topic", ["devices/DemoClient/inbox", "MyTopic", "fleet", "fleet/truck-7/gps"]
)
def test_a_topic_looked_up_from_data_passes_when_a_declared_filter_matches(
    allowlist: TopicAllowlist, topic: str
) -> None:
    assert allowlist.check(topic) == topic
    assert topic in allowlist


@pytest.mark.parametrize(
    "topic",
    ["devices/DemoClient/admin", "devices/inbox", "devices/a/b/inbox", "mytopic", "OtherTopic"],
)
def test_a_topic_no_declared_filter_matches_is_refused(
    allowlist: TopicAllowlist, topic: str
) -> None:
    assert topic not in allowlist
    with pytest.raises(ValidationError, match="matches none of the declared topics"):
        allowlist.check(topic)


def test_the_allowlist_still_applies_the_publish_topic_rules(allowlist: TopicAllowlist) -> None:
    with pytest.raises(ValidationError, match="wildcards"):
        allowlist.check("devices/+/inbox")  # the filter itself is no publish topic
    with pytest.raises(ValidationError, match=r"U\+0000"):
        allowlist.check("devices/a\x00/inbox")


def test_the_allowlist_accepts_a_topic_given_as_bytes(allowlist: TopicAllowlist) -> None:
    assert allowlist.check(b"devices/DemoClient/inbox") == "devices/DemoClient/inbox"


def test_an_allowlist_keeps_its_filters_in_order(allowlist: TopicAllowlist) -> None:
    assert list(allowlist) == ["devices/+/inbox", "MyTopic", "fleet/#"]
    assert repr(allowlist) == "TopicAllowlist(['devices/+/inbox', 'MyTopic', 'fleet/#'])"
    assert 42 not in allowlist


def test_an_allowlist_with_a_malformed_filter_cannot_be_made() -> None:
    with pytest.raises(ValidationError, match="whole level"):
        TopicAllowlist(["devices/+x/inbox"])


def test_an_empty_allowlist_cannot_be_made() -> None:
    with pytest.raises(ValidationError, match="at least one"):
        TopicAllowlist([])
