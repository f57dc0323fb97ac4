"""Unit tests of the pattern package's API: compiling, matching, explaining, views."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import pytest

from sluiceway.core.errors import ValidationError
from sluiceway.patterns import (
    MISSING,
    FilterSet,
    Miss,
    Pattern,
    PatternError,
    compile_filters,
    compile_pattern,
    esm_view_of_sqs_record,
    sns_attributes_view,
)

SEED = {"dynamodb": {"NewImage": {"phone": {"S": [{"prefix": "+91"}]}}}}


def stream_record(phone: str, event_name: str = "INSERT") -> dict[str, Any]:
    return {
        "eventID": "c4ca4238a0b923820dcc509a6f75849b",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1428537600,
            "Keys": {"id": {"S": "order-1"}},
            "NewImage": {"id": {"S": "order-1"}, "phone": {"S": phone}},
            "SequenceNumber": "4421584500000000017450439091",
            "SizeBytes": 26,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/x",
    }


def sqs_record(body: str) -> dict[str, Any]:
    return {
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }


# -- compiling -----------------------------------------------------------------------------


def test_compile_pattern_accepts_json_text_and_mappings_alike() -> None:
    from_text = compile_pattern('{ "source": [ "aws.ec2" ] }')
    from_mapping = compile_pattern({"source": ["aws.ec2"]})

    assert from_text == from_mapping
    assert from_text.source == '{"source":["aws.ec2"]}'
    assert from_text.context == "eventbridge"


def test_compiled_pattern_remembers_its_context() -> None:
    pattern = compile_pattern(SEED, context="esm")

    assert pattern.context == "esm"
    assert repr(pattern) == f"Pattern({pattern.source!r}, context='esm')"


def test_duplicate_keys_in_json_text_keep_the_last_value() -> None:
    pattern = compile_pattern('{"state": ["a"], "state": ["b"]}')

    assert pattern.source == '{"state":["b"]}'
    assert pattern.matches({"state": "b"})
    assert not pattern.matches({"state": "a"})


def test_source_keeps_the_text_of_numbers() -> None:
    pattern = compile_pattern('{"n": [300, 300.0, 3.0e2]}')

    assert pattern.source == '{"n":[300,300.0,3.0e2]}'


def test_compiling_a_pattern_again_in_its_own_context_returns_it() -> None:
    pattern = compile_pattern(SEED, context="esm")

    assert compile_pattern(pattern, context="esm") is pattern


def test_compiling_a_pattern_for_another_context_checks_that_context() -> None:
    pattern = compile_pattern({"name": [{"wildcard": "a*"}]})

    with pytest.raises(PatternError, match="not supported by EventBridge Pipes"):
        compile_pattern(pattern, context="pipes")


def test_pattern_error_is_a_validation_error_naming_path_and_reason() -> None:
    with pytest.raises(PatternError) as raised:
        compile_pattern({"detail": {"state": []}})

    error = raised.value
    assert isinstance(error, ValidationError)
    assert error.path == "detail.state"
    assert error.reason == "empty arrays are not allowed"
    assert str(error) == "invalid pattern at detail.state: empty arrays are not allowed"
    assert error.code == "InvalidEventPatternException"


@pytest.mark.parametrize(
    ("context", "code"),
    [
        ("pipes", "ValidationException"),
        ("esm", "InvalidParameterValueException"),
        ("sns-attributes", "InvalidParameterException"),
        ("sns-body", "InvalidParameterException"),
    ],
)
def test_pattern_error_carries_the_service_error_code(context: Any, code: str) -> None:
    with pytest.raises(PatternError) as raised:
        compile_pattern({"a": []}, context=context)

    assert raised.value.code == code


def test_unknown_context_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown pattern context"):
        compile_pattern({"a": ["x"]}, context="kinesis")  # type: ignore[arg-type]


def test_mapping_patterns_reject_values_json_cannot_hold() -> None:
    with pytest.raises(PatternError, match="values of type set"):
        compile_pattern({"a": [{"x"}]})
    with pytest.raises(PatternError, match="is not a JSON number"):
        compile_pattern({"a": [float("nan")]})
    with pytest.raises(PatternError, match="field names must be strings"):
        compile_pattern({"a": {1: ["x"]}})


def test_a_pattern_must_be_text_or_a_mapping() -> None:
    with pytest.raises(PatternError, match="JSON text or a mapping"):
        compile_pattern(["a"])  # type: ignore[arg-type]


def test_deeply_nested_patterns_are_rejected_cleanly() -> None:
    deep = '{"a":' * 1000 + '["x"]' + "}" * 1000

    with pytest.raises(PatternError, match="nested too deeply"):
        compile_pattern(deep, context="sns-body")


def test_mapping_patterns_accept_tuples_and_decimals() -> None:
    pattern = compile_pattern({"n": (Decimal("1.50"), 2)})

    assert pattern.source == '{"n":[1.50,2]}'
    assert pattern.matches({"n": Decimal("1.50")})


def test_the_size_limit_counts_the_text_as_given() -> None:
    padded = '{"a":' + " " * 4090 + '["x"]}'

    with pytest.raises(PatternError, match="the limit is 4096"):
        compile_pattern(padded)


def test_sns_policies_may_be_much_longer_than_event_patterns() -> None:
    values = [f"{i:03}-" + "v" * 40 for i in range(140)]

    policy = compile_pattern({"a": values}, context="sns-body")

    assert len(policy.source) > 4096
    assert policy.matches({"a": values[-1]})


def test_sns_policies_are_limited_to_256_kb() -> None:
    with pytest.raises(PatternError, match="the limit is 262144"):
        compile_pattern({"a": ["x" * (256 * 1024)]}, context="sns-attributes")


# -- matching ------------------------------------------------------------------------------


def test_seed_pattern_matches_an_indian_number_and_rejects_a_us_one() -> None:
    pattern = compile_pattern(SEED, context="esm")

    assert pattern.matches(stream_record("+919876543210"))
    assert not pattern.matches(stream_record("+14155550100"))


def test_prefix_does_not_match_numbers() -> None:
    pattern = compile_pattern({"n": [{"prefix": "1"}]})

    assert not pattern.matches({"n": 123})
    assert pattern.matches({"n": "123"})


def test_matching_accepts_read_only_mappings_and_tuples() -> None:
    pattern = compile_pattern({"items": {"sku": ["A-1"]}})
    event = MappingProxyType({"items": (MappingProxyType({"sku": "A-1"}),)})

    assert pattern.matches(event)


def test_matching_treats_str_subclasses_as_strings() -> None:
    class Status(StrEnum):
        ACTIVE = "ACTIVE"

    assert compile_pattern({"status": ["ACTIVE"]}).matches({"status": Status.ACTIVE})
    assert compile_pattern({"status": [{"prefix": "ACT"}]}).matches({"status": Status.ACTIVE})


def test_numbers_from_boto3_decimals_match_like_json_numbers() -> None:
    assert compile_pattern({"qty": [5]}).matches({"qty": Decimal("5")})
    assert compile_pattern({"qty": [{"numeric": [">", 4.5]}]}).matches({"qty": Decimal("5")})


def test_numeric_compares_doubles_not_decimal_expansions() -> None:
    pattern = compile_pattern({"n": [{"numeric": ["<", 0.1]}]})

    assert not pattern.matches({"n": Decimal("0.1")})
    assert not pattern.matches({"n": 0.1})


def test_numeric_never_matches_nan() -> None:
    assert not compile_pattern({"n": [{"numeric": [">", 0]}]}).matches({"n": float("nan")})


def test_exact_text_of_floats_is_their_shortest_repr() -> None:
    assert compile_pattern({"n": [300.0]}).matches({"n": 300.0})
    assert not compile_pattern({"n": [300]}).matches({"n": 300.0})


def test_booleans_are_not_numbers() -> None:
    assert not compile_pattern({"n": [1]}).matches({"n": True})
    assert not compile_pattern({"n": [{"anything-but": [1]}]}).matches({"n": 1})
    assert compile_pattern({"n": [{"anything-but": [1]}]}).matches({"n": True})


def test_non_json_event_values_only_satisfy_exists() -> None:
    event = {"when": object()}

    assert compile_pattern({"when": [{"exists": True}]}).matches(event)
    assert not compile_pattern({"when": ["x"]}).matches(event)


def test_sns_attribute_policies_never_match_a_message_without_attributes() -> None:
    policy = compile_pattern({"store": [{"exists": False}]}, context="sns-attributes")

    assert not policy.matches({})
    assert policy.matches({"other": "x"})


def test_an_empty_sns_policy_matches_everything() -> None:
    policy = compile_pattern({}, context="sns-attributes")

    assert policy.matches({})
    assert policy.explain({}).matched


def test_pipes_drop_a_plain_body_when_the_pattern_reaches_into_json() -> None:
    pattern = compile_pattern({"body": {"type": [{"exists": False}]}}, context="pipes")

    assert not pattern.matches(esm_view_of_sqs_record(sqs_record("plain text")))
    assert pattern.matches(esm_view_of_sqs_record(sqs_record('{"kind": "order"}')))


def test_eventbridge_does_not_apply_the_pipes_data_key_rule() -> None:
    pattern = compile_pattern({"body": {"type": [{"exists": False}]}})

    assert pattern.matches({"body": "plain text"})


# -- filter sets ---------------------------------------------------------------------------


def test_an_empty_filter_set_matches_every_event() -> None:
    filters = compile_filters([], context="esm")

    assert filters.patterns == ()
    assert filters.matches({"anything": 1})
    assert filters.explain({}).matched


def test_filters_are_or_ed() -> None:
    filters = compile_filters(
        [{"eventName": ["INSERT"]}, '{"eventName": ["REMOVE"]}'], context="esm"
    )

    assert isinstance(filters, FilterSet)
    assert all(isinstance(p, Pattern) for p in filters.patterns)
    assert filters.matches({"eventName": "REMOVE"})
    assert not filters.matches({"eventName": "MODIFY"})


def test_esm_and_pipes_allow_at_most_five_filters() -> None:
    six = [{"n": [i]} for i in range(6)]

    compile_filters(six[:5], context="esm")
    with pytest.raises(PatternError, match="at most 5 filters"):
        compile_filters(six, context="esm")
    with pytest.raises(PatternError, match="at most 5 filters"):
        compile_filters(six, context="pipes")
    assert compile_filters(six, context="eventbridge").matches({"n": 5})


def test_compile_filters_refuses_a_bare_pattern() -> None:
    with pytest.raises(TypeError, match="sequence of patterns"):
        compile_filters('{"a": ["x"]}', context="esm")


def test_filter_set_explanation_names_each_filter() -> None:
    filters = compile_filters([{"eventName": ["INSERT"]}, {"eventName": ["REMOVE"]}], context="esm")

    explanation = filters.explain({"eventName": "MODIFY"})

    assert not explanation.matched
    assert [m.branch for m in explanation.misses] == ["filter 1", "filter 2"]
    assert explanation.describe() == (
        'no match: filter 1: eventName is "MODIFY", which is not "INSERT" (one of "INSERT"); '
        'filter 2: eventName is "MODIFY", which is not "REMOVE" (one of "REMOVE")'
    )


def test_a_single_filter_explains_like_its_pattern() -> None:
    filters = compile_filters([SEED], context="esm")
    record = stream_record("+14155550100")

    assert filters.explain(record) == filters.patterns[0].explain(record)


# -- explanations --------------------------------------------------------------------------


def test_explanation_of_the_seed_mismatch_reads_as_plain_english() -> None:
    explanation = compile_pattern(SEED, context="esm").explain(stream_record("+14155550100"))

    assert not explanation.matched
    assert explanation.misses == (
        Miss(
            path="dynamodb.NewImage.phone.S",
            condition='prefix "+91"',
            actual="+14155550100",
            reason='does not start with "+91"',
        ),
    )
    assert explanation.describe() == (
        'no match: dynamodb.NewImage.phone.S is "+14155550100", which does not start with '
        '"+91" (prefix "+91")'
    )


def test_explanation_of_a_missing_field_uses_the_missing_sentinel() -> None:
    explanation = compile_pattern({"eventName": ["INSERT"]}).explain({"eventID": "1"})

    assert explanation.misses[0].actual is MISSING
    assert explanation.describe() == (
        'no match: field eventName is missing (expected one of "INSERT")'
    )


def test_explanation_of_a_match_is_empty() -> None:
    explanation = compile_pattern(SEED).explain(stream_record("+919876543210"))

    assert explanation.matched
    assert explanation.misses == ()
    assert explanation.describe() == "match"


def test_explanation_lists_every_failing_field() -> None:
    pattern = compile_pattern({"source": ["aws.ec2"], "detail": {"state": ["running"]}})

    explanation = pattern.explain({"source": "aws.s3", "detail": {}})

    assert [m.path for m in explanation.misses] == ["source", "detail.state"]


def test_explanation_points_at_the_closest_array_element() -> None:
    pattern = compile_pattern({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}})
    event = {
        "employees": [
            {"firstName": "John", "lastName": "Doe"},
            {"firstName": "Anna", "lastName": "Smith"},
        ]
    }

    (miss,) = pattern.explain(event).misses

    assert miss.path == "employees[1].lastName"
    assert miss.actual == "Smith"


def test_explanation_hints_that_exact_numbers_compare_by_text() -> None:
    (miss,) = compile_pattern({"price": [300]}).explain({"price": 300.0}).misses

    assert "compare by their JSON text" in miss.reason


def test_explanation_labels_or_branches() -> None:
    pattern = compile_pattern({"$or": [{"a": ["x"]}, {"b": ["y"]}]})

    explanation = pattern.explain({"a": "z"})

    assert [m.branch for m in explanation.misses] == ["$or[0]", "$or[1]"]


def test_explanation_of_an_empty_sns_attribute_set() -> None:
    policy = compile_pattern({"store": ["x"]}, context="sns-attributes")

    assert policy.explain({}).describe() == (
        "no match: the event has no message attributes (expected at least one message attribute)"
    )


def test_explanation_of_a_pipes_body_type_mismatch() -> None:
    pattern = compile_pattern({"body": {"type": ["order"]}}, context="esm")

    explanation = pattern.explain(esm_view_of_sqs_record(sqs_record("hello")))

    assert explanation.describe() == (
        'no match: body is "hello", which is plain text, but the pattern filters inside JSON '
        '(an object with "type")'
    )


# -- views ---------------------------------------------------------------------------------


def test_esm_view_decodes_a_json_body_without_touching_the_record() -> None:
    record = sqs_record('{"type": "order", "total": 12.50}')

    view = esm_view_of_sqs_record(record)

    assert view["body"] == {"type": "order", "total": Decimal("12.50")}
    assert record["body"] == '{"type": "order", "total": 12.50}'
    assert view["messageId"] == record["messageId"]


@pytest.mark.parametrize("body", ["Hello from SQS!", "{not json", "NaN", ""])
def test_esm_view_leaves_a_non_json_body_as_the_string(body: str) -> None:
    assert esm_view_of_sqs_record(sqs_record(body))["body"] == body


def test_esm_view_decodes_json_scalars_and_arrays() -> None:
    assert esm_view_of_sqs_record(sqs_record("[1, 2]"))["body"] == [1, 2]
    assert esm_view_of_sqs_record(sqs_record("42"))["body"] == 42


def test_sns_attributes_view_turns_attributes_into_an_event() -> None:
    view = sns_attributes_view(
        {
            "store": {"DataType": "String", "StringValue": "example_corp"},
            "interests": {"DataType": "String.Array", "StringValue": '["rugby", "soccer"]'},
            "price": {"DataType": "Number", "StringValue": "210.75"},
            "quantity": {"DataType": "Number", "StringValue": "3"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        }
    )

    assert view == {
        "store": "example_corp",
        "interests": ["rugby", "soccer"],
        "price": 210.75,
        "quantity": 3,
    }


def test_sns_attributes_view_reads_the_notification_envelope_form_too() -> None:
    view = sns_attributes_view({"store": {"Type": "String", "Value": "fans"}})

    assert view == {"store": "fans"}


def test_sns_attributes_view_keeps_undecodable_values_as_text() -> None:
    view = sns_attributes_view(
        {
            "tags": {"DataType": "String.Array", "StringValue": "not json"},
            "n": {"DataType": "Number", "StringValue": "twelve"},
        }
    )

    assert view == {"tags": "not json", "n": "twelve"}


def test_sns_numbers_match_by_value_through_the_view() -> None:
    policy = compile_pattern({"price": [{"numeric": ["=", 301.5]}]}, context="sns-attributes")
    event = sns_attributes_view({"price": {"DataType": "Number", "StringValue": "3.015e2"}})

    assert policy.matches(event)


# -- speed ---------------------------------------------------------------------------------


def test_seed_pattern_matches_more_than_100k_records_per_second() -> None:
    match = compile_pattern(SEED, context="esm").matches
    record = json.loads(json.dumps(stream_record("+919876543210")))
    rounds = 20_000

    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(rounds):
            match(record)
        best = min(best, time.perf_counter() - started)

    assert rounds / best > 100_000
