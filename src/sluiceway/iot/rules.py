"""AWS IoT Core publish rules, checked the same way by the local engine and the AWS adapter.

A topic that passes here is one IoT Core's ``iot-data`` ``Publish`` accepts, so a handler
that works locally does not fail on AWS over a topic name:

    check_topic("devices/DemoClient/inbox")      # returned as given
    check_topic("devices/+/inbox")               # ValidationError: no wildcards in a publish
    allowlist = TopicAllowlist(["devices/+/inbox", "MyTopic"])
    allowlist.check(looked_up_topic)             # ValidationError unless a filter matches

Matching follows MQTT 3.1.1 section 4.7 (`topic_matches`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sluiceway.core.errors import ValidationError

MAX_TOPIC_BYTES = 256
# IoT Core counts levels by slashes: 7 slashes, 8 levels.
MAX_TOPIC_SLASHES = 7
# The broker quota: 128 KB for the payload and the topic together.
MAX_MESSAGE_BYTES = 128 * 1024
QOS_LEVELS = (0, 1)

_INVALID_REQUEST = "InvalidRequestException"
_TOO_LARGE = "RequestEntityTooLargeException"


def check_topic(topic: str | bytes) -> str:
    """The topic as text, if IoT Core accepts it as a publish topic.

    Raises `ValidationError` naming the rule broken: empty, invalid UTF-8, a control
    character, a reserved ``$`` topic, a wildcard, more than 256 bytes or 7 slashes. Bytes
    are accepted because a topic built from data (a table attribute) may arrive as bytes.
    """
    text = _text(topic, "topic")
    _check_name_rules(text, "topic")
    if "+" in text or "#" in text:
        raise ValidationError(
            f"topic {text!r}: the wildcards '+' and '#' are for subscriptions, not publishing",
            code=_INVALID_REQUEST,
        )
    return text


def check_filter(topic_filter: str) -> str:
    """A topic filter an allowlist may hold: the rules of `check_topic`, except that ``+``
    may fill a whole level and ``#`` may be the last one (MQTT 3.1.1 section 4.7.1)."""
    text = _text(topic_filter, "topic filter")
    _check_name_rules(text, "topic filter")
    _filter_levels(text)
    return text


def check_qos(qos: Any) -> int:
    """0 (at most once) or 1 (at least once): IoT Core has no QoS 2."""
    if isinstance(qos, bool) or not isinstance(qos, int) or qos not in QOS_LEVELS:
        raise ValidationError(
            f"qos {qos!r}: AWS IoT Core accepts 0 or 1 (it has no QoS 2)", code=_INVALID_REQUEST
        )
    return qos


def check_payload(payload: bytes, *, topic: str = "") -> bytes:
    """The payload, if it and its topic fit IoT Core's 128 KB message quota.

    The topic (already checked) counts because the quota is on the whole MQTT message; AWS
    answers ``PAYLOAD_LIMIT_EXCEEDED`` (413 on the HTTP data plane) past it."""
    size = len(payload) + len(topic.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        raise ValidationError(
            f"message of {size} bytes (payload and topic): AWS IoT Core accepts at most "
            f"{MAX_MESSAGE_BYTES} bytes (128 KB)",
            code=_TOO_LARGE,
        )
    return payload


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether `topic` matches `topic_filter` as an MQTT 3.1.1 broker would route it.

    ``+`` matches exactly one level (an empty one too); ``#`` matches any number of levels
    including none, so ``sport/#`` matches ``sport``; a filter that starts with a wildcard
    does not match a topic that starts with ``$``. A malformed filter (``sport/tennis#``)
    raises `ValidationError`.
    """
    return _matches(_filter_levels(topic_filter), topic)


class TopicAllowlist:
    """The topics a function may publish to, declared as names and filters.

    A topic built from data (looked up from a table, taken from a request) is checked
    against the declaration before anything is sent, as an IAM policy on ``iot:Publish``
    would on AWS:

        allowlist = TopicAllowlist(["devices/+/inbox", "MyTopic"])
        allowlist.check("devices/DemoClient/inbox")   # returned
        allowlist.check("devices/DemoClient/admin")   # ValidationError
    """

    def __init__(self, filters: Iterable[str]) -> None:
        self.filters = tuple(check_filter(f) for f in filters)
        if not self.filters:
            raise ValidationError(
                "a topic allowlist needs at least one topic or filter", code=_INVALID_REQUEST
            )
        # Plain names are looked up directly; only the filters with wildcards are walked.
        self._names = frozenset(f for f in self.filters if not _has_wildcard(f))
        self._patterns = tuple(_filter_levels(f) for f in self.filters if _has_wildcard(f))

    def __contains__(self, topic: object) -> bool:
        if not isinstance(topic, str):
            return False
        return topic in self._names or any(_matches(p, topic) for p in self._patterns)

    def __iter__(self) -> Iterator[str]:
        return iter(self.filters)

    def __repr__(self) -> str:
        return f"TopicAllowlist({list(self.filters)!r})"

    def check(self, topic: str | bytes) -> str:
        """The topic, if it is a valid publish topic matching one of the filters."""
        text = check_topic(topic)
        if text not in self:
            raise ValidationError(
                f"topic {text!r} matches none of the declared topics {list(self.filters)!r}",
                code=_INVALID_REQUEST,
            )
        return text


def _text(topic: object, what: str) -> str:
    if isinstance(topic, bytes):
        try:
            topic = topic.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValidationError(
                f"{what} {topic!r}: not valid UTF-8 ({error.reason} at byte {error.start})",
                code=_INVALID_REQUEST,
            ) from None
    if not isinstance(topic, str):
        raise ValidationError(
            f"{what} {topic!r}: must be a string, not {type(topic).__name__}",
            code=_INVALID_REQUEST,
        )
    try:
        topic.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate: Python holds it, UTF-8 cannot carry it.
        raise ValidationError(
            f"{what} {topic!r}: not valid UTF-8 (it holds a lone surrogate)",
            code=_INVALID_REQUEST,
        ) from None
    return topic


def _check_name_rules(text: str, what: str) -> None:
    """The rules a topic and a filter share."""
    if not text:
        raise ValidationError(f"the {what} is empty", code=_INVALID_REQUEST)
    control = next((c for c in text if _is_control(c)), None)
    if control is not None:
        raise ValidationError(
            f"{what} {text!r}: control character U+{ord(control):04X} is not allowed "
            "(NUL is forbidden by MQTT, the others by AWS IoT)",
            code=_INVALID_REQUEST,
        )
    if text.startswith("$"):
        raise ValidationError(
            f"{what} {text!r}: topics starting with '$' are reserved (e.g. '$aws/...')",
            code=_INVALID_REQUEST,
        )
    size = len(text.encode("utf-8"))
    if size > MAX_TOPIC_BYTES:
        raise ValidationError(
            f"{what} {text[:40]!r}...: {size} bytes in UTF-8; AWS IoT allows at most "
            f"{MAX_TOPIC_BYTES} bytes",
            code=_INVALID_REQUEST,
        )
    slashes = text.count("/")
    if slashes > MAX_TOPIC_SLASHES:
        raise ValidationError(
            f"{what} {text!r}: {slashes} forward slashes; AWS IoT allows at most "
            f"{MAX_TOPIC_SLASHES} (8 levels)",
            code=_INVALID_REQUEST,
        )


def _is_control(character: str) -> bool:
    code = ord(character)
    return code < 0x20 or 0x7F <= code <= 0x9F


def _has_wildcard(topic_filter: str) -> bool:
    return "+" in topic_filter or "#" in topic_filter


def _filter_levels(topic_filter: str) -> list[str]:
    """The filter's levels, once its wildcards are known to be well placed (section 4.7.1)."""
    if not topic_filter:
        raise ValidationError("the topic filter is empty", code=_INVALID_REQUEST)
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValidationError(
                f"topic filter {topic_filter!r}: '#' must be a whole level and the last one",
                code=_INVALID_REQUEST,
            )
        if "+" in level and level != "+":
            raise ValidationError(
                f"topic filter {topic_filter!r}: '+' must be a whole level",
                code=_INVALID_REQUEST,
            )
    return levels


def _matches(filter_levels: list[str], topic: str) -> bool:
    if topic.startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    topic_levels = topic.split("/")
    for i, level in enumerate(filter_levels):
        if level == "#":
            return True
        if i >= len(topic_levels) or (level != "+" and level != topic_levels[i]):
            return False
    return len(topic_levels) == len(filter_levels)
