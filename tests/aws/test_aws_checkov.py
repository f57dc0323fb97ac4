"""checkov over the blueprints' rendered templates: it finds only the checks docs/conformance.md
lists with the reason each does not apply; the defaults it once found (topics unencrypted, no
access logs, no X-Ray) hold, and each declaration that turns one off does."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sluiceway import App
from sluiceway.aws import Code, _yaml, template_for
from sluiceway.blueprints import iot_router, orders, registrations

ROOT = Path(__file__).parent.parent.parent
CHECKOV = Path(sys.prefix) / "checkov" / "bin" / "checkov"  # scripts/bootstrap installs it
BLUEPRINTS = {
    "orders": orders.app,
    "registrations": registrations.app,
    "iot-router": iot_router.app,
}


def listed() -> set[str]:
    """The checks docs/conformance.md lists, each with a reason."""
    doc = (ROOT / "docs" / "conformance.md").read_text()
    section = doc[doc.index("## The AWS render, checked with checkov") :]
    section = section[: section.index("\n## ", 1)]
    rows = re.findall(r"^\| (CKV_AWS_\d+) \(.+?\) \| (.+) \|$", section, re.MULTILINE)
    assert all(len(reason) > 40 for _, reason in rows)
    return {check for check, _ in rows}


def failed_checks(template: dict[str, Any], folder: Path) -> set[tuple[str, str]]:
    path = folder / "template.yaml"
    path.write_text(_yaml.dump(template))
    done = subprocess.run(
        [str(CHECKOV), "-f", str(path), "--framework", "cloudformation", "-o", "json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    report = json.loads(done.stdout)
    report = report[0] if isinstance(report, list) else report
    if "results" not in report:  # every check passed: checkov prints a summary only
        return set()
    return {(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]}


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_checkov_finds_only_the_checks_listed_here(name: str, tmp_path: Path) -> None:
    template = template_for(BLUEPRINTS[name].graph, Code("m:app"))
    found = failed_checks(template, tmp_path)
    unexplained = sorted((check, where) for check, where in found if check not in listed())
    assert unexplained == []
    for fixed in ("CKV_AWS_26", "CKV_AWS_73", "CKV_AWS_76"):
        assert fixed not in {check for check, _ in found}


def test_each_default_can_be_turned_off(tmp_path: Path) -> None:
    app = App("quiet")
    inbox = app.queue("inbox")
    app.topic("alarms", kms_key=None)  # e.g. for CloudWatch alarms, which cannot use aws/sns
    app.route("POST", "/in", to=inbox)

    @app.on_queue(inbox)
    def take(event: Any, context: Any) -> None: ...

    app.deployment(tracing=False, access_logs=False)
    found = {check for check, _ in failed_checks(template_for(app.graph, Code("m:app")), tmp_path)}
    assert {"CKV_AWS_26", "CKV_AWS_73", "CKV_AWS_76"} <= found


def test_the_defaults_as_rendered() -> None:
    template = template_for(orders.app.graph, Code("m:app"))
    resources = template["Resources"]
    assert resources["POCTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"
    api = resources["OrdersApi"]
    assert api["Properties"]["TracingEnabled"] is True
    assert api["DependsOn"] == "ApiGatewayAccount"
    logging = api["Properties"]["AccessLogSetting"]
    assert logging["DestinationArn"] == {"Fn::GetAtt": ["OrdersApiAccessLogs", "Arn"]}
    assert json.loads(logging["Format"])["requestId"] == "$context.requestId"
    assert resources["OrdersApiAccessLogs"]["Properties"] == {"RetentionInDays": 365}
    account = resources["ApiGatewayAccount"]["Properties"]
    assert account == {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}}
    for function in ("POCLambda1", "POCLambda2"):
        assert resources[function]["Properties"]["Tracing"] == "Active"
        role = resources[resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]]
        assert {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess"} in role[
            "Properties"
        ]["ManagedPolicyArns"]


def test_a_topic_key_must_be_a_key() -> None:
    from sluiceway import DeclarationError

    with pytest.raises(DeclarationError, match="is not a key"):
        App("bad").topic("t", kms_key="  ")
