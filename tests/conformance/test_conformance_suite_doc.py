"""docs/conformance.md's "Conformance suite" section is generated from the suite itself: every
case is run on moto, its calls counted by service and operation, and its recorded differences
from AWS listed. The test fails when the section is stale; rewrite it with
``python tests/conformance/test_conformance_suite_doc.py``."""

from __future__ import annotations

import importlib
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import conformance_harness as h

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "conformance.md"
TITLE = "## Conformance suite"
MODULES = (
    "test_conformance_sqs",
    "test_conformance_dynamodb",
    "test_conformance_sns",
    "test_conformance_streams",
)
SERVICES = {
    "sqs": "SQS",
    "dynamodb": "DynamoDB",
    "sns": "SNS",
    "dynamodbstreams": "DynamoDB Streams",
    "iot-data": "IoT data",
}
INTRODUCTION = """\
`tests/conformance/` runs every case below twice, against moto's in-process `mock_aws` and
against the runtime over HTTP (an app that declares nothing; the cases make their own queues,
tables and topics through the API, in moto's account `123456789012`), and asserts that both
observe the same: responses without `ResponseMetadata`, with ids, receipt handles, times,
sequence numbers, shard iterators and endpoint URLs as placeholders (keys kept, so shapes
compare; `MD5OfMessageBody` and the other content MD5s compare as values); errors by code,
HTTP status and, where both are AWS's, message. Where moto is not AWS, the case carries AWS's
answer and the documentation that gives it: the runtime must answer that, and moto's answer is
recorded (listed under "moto's differences"). Lambda's `Invoke` is not in the suite: moto runs
functions only in Docker (its tests are `tests/wire/test_wire_lambda.py`).

This section is generated: `tests/conformance/test_conformance_suite_doc.py` fails when it is
stale, and `python tests/conformance/test_conformance_suite_doc.py` rewrites it."""


def _suites() -> list[h.Suite]:
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    return [importlib.import_module(name).suite for name in MODULES]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    """The section, from a run of every case on moto."""
    calls: Counter[tuple[str, str]] = Counter()
    cases: Counter[tuple[str, str]] = Counter()
    differences: list[tuple[str, h.Divergence]] = []
    quirks: list[h.Quirk] = []
    total_cases = 0
    moto = h.MotoBackend()  # its clients made once; each case counted apart
    for suite in _suites():
        quirks += suite.quirks
        for name in suite.cases:
            moto.calls.clear()
            found = h.observe(suite, name, moto)
            total_cases += 1
            calls.update(moto.calls)
            cases.update(set(moto.calls))
            seen = set()
            for observation in found:
                if isinstance(observation, h.Divergent):
                    key = observation.divergence.note
                    if key not in seen:
                        seen.add(key)
                        differences.append((name, observation.divergence))
    lines = [TITLE, "", INTRODUCTION, ""]
    lines.append(
        f"{total_cases} cases make {sum(calls.values())} boto3 calls in all, each on both backends."
    )
    for service, title in SERVICES.items():
        rows = sorted(op for svc, op in calls if svc == service)
        lines += [
            "",
            f"### {title}",
            "",
            "| Operation | Cases | Calls |",
            "| --- | --- | --- |",
        ]
        lines += [f"| `{op}` | {cases[service, op]} | {calls[service, op]} |" for op in rows]
        lines.append(
            f"| all | {len(rows)} operation{'s' if len(rows) > 1 else ''} | "
            f"{sum(calls[service, op] for op in rows)} |"
        )
    lines += [
        "",
        "### moto's differences from AWS",
        "",
        "Where the suite holds the runtime to AWS's documented answer instead of moto's.",
        "",
        "| Case | moto | AWS's documentation |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {name.replace('_', ' ')} | {_escape(d.note)} | <{d.source}> |"
        for name, d in differences
    ]
    lines += [f"| (every answer) | {_escape(q.note)} | <{q.source}> |" for q in quirks]
    return "\n".join(lines) + "\n"


def _split(text: str) -> tuple[str, str, str]:
    """The doc before the section, the section, and after it."""
    start = text.find(TITLE + "\n")
    if start < 0:
        return text.rstrip("\n") + "\n\n", "", ""
    end = text.find("\n## ", start + len(TITLE))
    end = len(text) if end < 0 else end + 1
    return text[:start], text[start:end], text[end:]


def test_the_docs_list_every_case_by_service_and_operation() -> None:
    _, section, _ = _split(DOC.read_text())
    assert section == render(), "stale: run python tests/conformance/test_conformance_suite_doc.py"


def _write() -> None:
    before, _, after = _split(DOC.read_text())
    DOC.write_text(before + render() + ("\n" + after if after else ""))


def _main(argv: list[str]) -> Any:
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "src")]
    _write()


if __name__ == "__main__":
    _main(sys.argv)
