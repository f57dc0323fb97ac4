"""The conformance corpus: documented AWS examples and edge cases, kept as data.

Each case in ``tests/data/patterns/*.json`` is either a match case
(``pattern``, ``event``, ``matches``) or an invalid-pattern case (``pattern``, ``error``: a
substring of the PatternError message). ``pattern`` is a JSON object, or a string when the
case is about the JSON text itself (duplicate keys, NaN). ``view`` names the event shape
to build first: ``"sqs"`` (an SQS Lambda record) or ``"sns-attributes"`` (Publish
MessageAttributes). Files are read with ``parse_float=Decimal`` so numbers keep their text.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sluiceway.patterns import (
    PatternError,
    compile_pattern,
    esm_view_of_sqs_record,
    sns_attributes_view,
)

CORPUS = Path(__file__).resolve().parent.parent / "data" / "patterns"
VIEWS = {"sqs": esm_view_of_sqs_record, "sns-attributes": sns_attributes_view}


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in sorted(CORPUS.glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal):
            cases.append((f"{path.stem}: {case['name']}", case))
    return cases


CASES = load_cases()
MATCH_CASES = [pytest.param(case, id=name) for name, case in CASES if "matches" in case]
ERROR_CASES = [pytest.param(case, id=name) for name, case in CASES if "error" in case]


def event_of(case: dict[str, Any]) -> Any:
    view = case.get("view")
    return VIEWS[view](case["event"]) if view else case["event"]


@pytest.mark.parametrize("case", MATCH_CASES)
def test_corpus_case_matches_as_documented(case: dict[str, Any]) -> None:
    pattern = compile_pattern(case["pattern"], context=case["context"])
    event = event_of(case)

    assert pattern.matches(event) is case["matches"]
    explanation = pattern.explain(event)
    assert explanation.matched is case["matches"]
    assert bool(explanation.misses) is not case["matches"]


@pytest.mark.parametrize("case", MATCH_CASES)
def test_corpus_case_matches_the_same_after_a_round_trip_through_its_source(
    case: dict[str, Any],
) -> None:
    pattern = compile_pattern(case["pattern"], context=case["context"])
    again = compile_pattern(pattern.source, context=case["context"])

    assert again.source == pattern.source
    assert again.matches(event_of(case)) is case["matches"]


@pytest.mark.parametrize("case", ERROR_CASES)
def test_corpus_case_is_rejected_with_a_clear_reason(case: dict[str, Any]) -> None:
    with pytest.raises(PatternError) as raised:
        compile_pattern(case["pattern"], context=case["context"])

    assert case["error"] in str(raised.value)


def test_corpus_has_at_least_200_cases_with_unique_names_and_sources() -> None:
    names = Counter(name for name, _ in CASES)

    assert len(CASES) >= 200
    assert [name for name, count in names.items() if count > 1] == []
    assert all(case["source"] for _, case in CASES)


def test_corpus_covers_every_context() -> None:
    contexts = Counter(case["context"] for _, case in CASES)

    assert set(contexts) == {"eventbridge", "pipes", "esm", "sns-attributes", "sns-body"}
