"""AWS WAF in front of a template's REST API (aws-samples/serverless-patterns waf-apigw-rest,
MIT-0, copied unchanged into tests/data/templates/), run with `sluiceway run template.yaml`.

The pattern's only rule allows requests from listed countries (GeoMatchStatement) and blocks
the rest (DefaultAction Block). Requests reach the local gateway from this machine, which has
no country, so `sluiceway run` refuses the template naming the web ACL, the rule and the fix
rather than allow or block everything. The pattern's promise (requests from the allowed
places reach the Lambda function, the others get WAF's 403) is then checked with the rule
expressed as the local firewall evaluates it: an IP set of allowed client addresses (read from
X-Forwarded-For), in front of the same function, next to a rate-based rule.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest
from runtime import RuntimeProcess, cli

pytestmark = pytest.mark.slow

PATTERN = Path(__file__).parent.parent / "data" / "templates" / "waf-apigw-rest"

# The pattern's rule, from its "- Action:" to its country list's end.
COUNTRY_RULE = ("        - Action:\n            Allow: {} # Allow if", "                - US\n")
LOCAL_RULES = """\
        - Action:
            Block: {}
          Name: PerClientLimit
          Priority: 0
          Statement:
            RateBasedStatement:
              Limit: 10
              EvaluationWindowSec: 60
              AggregateKeyType: FORWARDED_IP
              ForwardedIPConfig: {HeaderName: X-Forwarded-For, FallbackBehavior: NO_MATCH}
        - Action:
            Allow: {}
          Name: AllowCountryList
          Priority: 1
          Statement:
            IPSetReferenceStatement:
              Arn: !GetAtt AllowedClients.Arn
              IPSetForwardedIPConfig:
                {HeaderName: X-Forwarded-For, FallbackBehavior: NO_MATCH, Position: FIRST}
"""
IP_SET = """
  AllowedClients:
    Type: AWS::WAFv2::IPSet
    Properties:
      Scope: REGIONAL
      IPAddressVersion: IPV4
      Addresses: [198.51.100.0/24]
"""


def _output(runtime: RuntimeProcess, name: str) -> str:
    """The value of output `name` as `sluiceway run` prints it (lines may follow the ready
    line)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in list(runtime.output):
            if name in line:
                return line.split()[-1]
        time.sleep(0.05)
    raise AssertionError(f"no output {name}: {runtime.output}")


def test_the_patterns_country_rule_is_refused_naming_the_web_acl_rule_and_fix(
    tmp_path: Path,
) -> None:
    result = cli("run", str(PATTERN / "template.yaml"), "--port", "0", data_dir=tmp_path / "d")
    assert result.returncode != 0
    said = result.stdout + result.stderr
    assert "resource 'MyWAFACL' (AWS::WAFv2::WebACL) rule 'AllowCountryList'" in said
    assert "GeoMatchStatement cannot be evaluated locally" in said
    assert "IPSetReferenceStatement" in said


def test_allowed_clients_reach_the_function_others_and_floods_get_403(tmp_path: Path) -> None:
    folder = tmp_path / "waf-apigw-rest"
    shutil.copytree(PATTERN, folder)
    original = (PATTERN / "template.yaml").read_text()
    start = original.index(COUNTRY_RULE[0])
    end = original.index(COUNTRY_RULE[1], start) + len(COUNTRY_RULE[1])
    assert "GeoMatchStatement" in original[start:end]
    adapted = (original[:start] + LOCAL_RULES + original[end:]).replace(
        "\n  # Amazon API gateway REST API", IP_SET + "\n  # Amazon API gateway REST API"
    )
    (folder / "template.yaml").write_text(adapted)
    runtime = RuntimeProcess(tmp_path / "data", [str(folder / "template.yaml")]).start(timeout=60)
    try:
        endpoint = _output(runtime, "ApiEndpoint")
        assert endpoint == f"{runtime.url}/Prod"
        with httpx.Client(timeout=30) as client:
            allowed = {"X-Forwarded-For": "198.51.100.7"}
            answer = client.get(endpoint, headers=allowed)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"message": "Request received by Lambda function"}
            # Not in the allowed set: WAF's default action, Block.
            other = client.get(endpoint, headers={"X-Forwarded-For": "203.0.113.9"})
            assert other.status_code == 403
            assert "Default_Action" in other.text
            assert client.get(endpoint).status_code == 403
            # The limit is 10 per client in the trailing minute: the 11th is blocked.
            codes = [client.get(endpoint, headers=allowed).status_code for _ in range(10)]
            assert codes == [200] * 9 + [403]
            assert "PerClientLimit" in client.get(endpoint, headers=allowed).text
            # Another allowed client has its own count.
            fresh = client.get(endpoint, headers={"X-Forwarded-For": "198.51.100.8"})
            assert fresh.status_code == 200
    finally:
        assert runtime.stop() == 0
