"""The template writer: whatever the template holds reads back exactly (checked with PyYAML,
the reader cfn-lint and the SAM CLI build on)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sluiceway.aws import _yaml

keys = st.text(min_size=1, max_size=20)
scalars = st.none() | st.booleans() | st.integers() | st.text()
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(keys, documents, max_size=5))
def test_any_document_of_strings_numbers_booleans_lists_and_maps_reads_back(
    document: dict[str, Any],
) -> None:
    assert yaml.safe_load(_yaml.dump(document)) == (document or None)


@given(st.text())
def test_any_text_reads_back_as_the_same_string(text: str) -> None:
    assert yaml.safe_load(_yaml.dump({"value": text})) == {"value": text}


@pytest.mark.parametrize(
    "text",
    ["yes", "No", "on", "null", "~", "2012-10-17", "1e3", "0x1F", ".inf", "- a", "a: b", "#x", ""],
)
def test_words_yaml_would_read_as_something_else_are_quoted(text: str) -> None:
    line = _yaml.dump({"k": text}).strip()
    assert line.startswith('k: "')
    assert yaml.safe_load(line) == {"k": text}


def test_plain_names_stay_bare_so_the_template_reads_like_one_written_by_hand() -> None:
    assert _yaml.dump(
        {"Type": "AWS::SQS::Queue", "Action": "sqs:SendMessage", "Handler": "a.b.handler"}
    ) == ("Type: AWS::SQS::Queue\nAction: sqs:SendMessage\nHandler: a.b.handler\n")


def test_lists_of_maps_put_the_first_key_on_the_dash() -> None:
    assert _yaml.dump({"Statement": [{"Effect": "Allow", "Action": ["a:B"]}], "E": []}) == (
        "Statement:\n  - Effect: Allow\n    Action:\n      - a:B\nE: []\n"
    )


def test_a_value_outside_the_template_s_types_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot write a float"):
        _yaml.dump({"ratio": 0.5})
