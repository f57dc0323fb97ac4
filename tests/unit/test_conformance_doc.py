"""docs/conformance.md stays true: its tests exist, and every promised option is kept."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "conformance.md"
PROMISED = (
    "## SQS queues",
    "## SQS event source mappings",
    "## DynamoDB Streams",
    "## EventBridge Pipes",
    "## SNS topics",
    "## API Gateway routes",
    "## Other",
    "## Durability",
    "## Cognito",
    "## AWS WAF",
    "## AWS IoT",
    "## Tracing",
)


def sections() -> dict[str, list[list[str]]]:
    found: dict[str, list[list[str]]] = {}
    current = ""
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            current = line
            found[current] = []
        elif line.startswith("| ") and not line.startswith("| ---") and current:
            found[current].append([cell.strip() for cell in line.strip("|").split("|")])
    return found


def defined_tests() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for pair in re.findall(r"^def (test_\w+)|^(test_\w+) =", path.read_text(), re.M):
            names |= {name for name in pair if name}
    return names


def test_every_test_the_table_names_exists() -> None:
    known = defined_tests()
    named = set(re.findall(r"`(test_\w+)`", DOC.read_text()))
    assert named, "the table names no tests"
    assert sorted(named - known) == []


def test_no_promised_option_is_missing_locally() -> None:
    for title, rows in sections().items():
        if not title.startswith(PROMISED):
            continue
        for row in rows[1:]:
            assert not row[1].startswith("no"), f"{title}: {row[0]} is not kept locally"
            assert re.search(r"`test_\w+`", row[-1]), f"{title}: {row[0]} names no test"
