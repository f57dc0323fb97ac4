"""`sluiceway match`: does an event match a pattern, and if not, why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sluiceway.cli import main
from sluiceway.patterns import PatternError, compile_pattern

SEED = '{"dynamodb":{"NewImage":{"phone":{"S":[{"prefix":"+91"}]}}}}'


def match(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["match", *args], input=stdin)


def record(phone: str) -> str:
    return json.dumps({"eventName": "INSERT", "dynamodb": {"NewImage": {"phone": {"S": phone}}}})


def test_a_match_says_so_and_exits_0() -> None:
    result = CliRunner().invoke(
        main, ["match", SEED, record("+919876543210"), "--context", "pipes"]
    )
    assert (result.exit_code, result.output) == (0, "match\n")


def test_a_miss_names_the_field_and_the_condition_and_exits_1() -> None:
    result = match(SEED, record("+14155550100"), "--context", "pipes")
    assert result.exit_code == 1
    assert result.output == (
        "no match\n"
        '  dynamodb.NewImage.phone.S is "+14155550100", which does not start with "+91" '
        '(prefix "+91")\n'
    )


def test_files_and_stdin_work_as_well_as_inline_json(tmp_path: Path) -> None:
    pattern = tmp_path / "pattern.json"
    pattern.write_text(SEED)
    result = match(str(pattern), "-", "--context", "pipes", stdin=record("+91123"))
    assert result.output == "match\n"


def test_every_alternative_of_an_or_is_explained() -> None:
    pattern = '{"$or": [{"a": ["x"]}, {"b": [{"numeric": [">", 5]}]}]}'
    result = match(pattern, '{"a": "y", "b": 3}')
    assert result.exit_code == 1
    assert '[$or[0]] a is "y", which is not "x"' in result.output
    assert "[$or[1]] b is 3, which is not > 5" in result.output


def test_an_sqs_record_body_is_matched_as_json() -> None:
    sqs = json.dumps({"messageId": "m1", "body": json.dumps({"type": "order"})})
    result = CliRunner().invoke(
        main, ["match", '{"body": {"type": ["order"]}}', sqs, "--context", "esm"]
    )
    assert result.output == "match\n"


def test_sns_attributes_in_publish_form_match_by_value() -> None:
    attributes = json.dumps({"price": {"DataType": "Number", "StringValue": "3.015e2"}})
    result = CliRunner().invoke(
        main,
        [
            "match",
            '{"price": [{"numeric": ["=", 301.5]}]}',
            attributes,
            "--context",
            "sns-attributes",
        ],
    )
    assert result.output == "match\n"


def test_a_pattern_invalid_in_its_context_exits_2_with_the_reason() -> None:
    result = CliRunner().invoke(
        main, ["match", '{"eventName": ["INSERT"]}', "{}", "--context", "pipes"]
    )
    assert result.exit_code == 2
    assert "the poller adds" in result.output


def test_bad_json_is_a_usage_error() -> None:
    result = match("{nope", "{}")
    assert result.exit_code == 2
    assert "not valid JSON" in result.output


@pytest.mark.parametrize(
    "field",
    [
        "awsRegion",
        "eventSource",
        "eventSourceARN",
        "eventVersion",
        "eventID",
        "eventName",
        "invokeIdentityArn",
        "eventSourceKey",
    ],
)
def test_pipes_refuse_the_fields_the_poller_adds_and_lambda_filters_allow_them(field: str) -> None:
    with pytest.raises(PatternError, match="the poller adds"):
        compile_pattern({field: ["x"]}, context="pipes")
    assert compile_pattern({field: ["x"]}, context="esm").matches({field: "x"})
    # Only at the top level: a data field of the same name is fine.
    assert compile_pattern({"dynamodb": {field: ["x"]}}, context="pipes").matches(
        {"dynamodb": {field: "x"}}
    )
