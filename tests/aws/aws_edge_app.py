"""An app with every edge piece the iot-router blueprint leaves out: a user pool whose
resource server is named by a URL, a function behind HTTP that takes either of two scopes,
every firewall statement kind and option (both IP versions, forwarded addresses, a header key,
a path prefix, each size part, managed groups with exclusions and counting, a blocking
default), and an IoT allowlist with ``+``, ``#`` and characters IAM reads as syntax."""

from __future__ import annotations

from typing import Any

from sluiceway import App
from sluiceway.firewall import (
    ForwardedIPConfig,
    Rule,
    ip_set,
    managed,
    rate_limit,
    size_limit,
)

app = App("edge")

partners = app.user_pool("partners", domain="edge-partners", access_token_validity=900)
partners.resource_server(
    "https://api.example.com", scopes={"write": "Write orders", "read": "Read orders"}
)
WRITE = "https://api.example.com/write"
READ = "https://api.example.com/read"

inbox = app.queue("inbox")
iot = app.iot(topics=["devices/+/inbox", "fleet/#", "MyTopic", "odd*?$name"])

app.route("POST", "/inbox", to=inbox, auth=partners.requires(WRITE))


@app.on_http("GET", "/status/{id}", auth=partners.requires(READ, WRITE), name="status")
def status(event: Any, context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": "{}"}


@app.on_queue(inbox, uses=[iot.publishes], name="relay")
def relay(event: Any, context: Any) -> None:
    for record in event["Records"]:
        iot.publish("MyTopic", record["body"])


app.firewall(
    [
        Rule("per-ip", 0, "block", rate_limit(100, window=60)),
        Rule(
            "per-key",
            1,
            "block",
            rate_limit(50, window=300, key=("header", "X-Api-Key"), path_prefix="/inbox"),
        ),
        Rule("per-proxy", 2, "count", rate_limit(1000, window=600, key="forwarded_ip")),
        Rule("office", 3, "allow", ip_set(["203.0.113.0/24", "2001:db8::/32"])),
        Rule(
            "banned",
            4,
            "block",
            ip_set(
                "198.51.100.7/32",
                forwarded_ip_config=ForwardedIPConfig(position="LAST", fallback_behavior="MATCH"),
            ),
        ),
        Rule("big-body", 5, "block", size_limit("body", 8192)),
        Rule("long-uri", 6, "block", size_limit("uri", 1024)),
        Rule("long-query", 7, "block", size_limit("query", 2048)),
        Rule("big-headers", 8, "block", size_limit("headers", 4096)),
        Rule("long-agent", 9, "count", size_limit("header:User-Agent", 512)),
        Rule(
            "common",
            10,
            "block",
            managed(
                "AWSManagedRulesCommonRuleSet",
                excluded_rules=["SizeRestrictions_BODY", "NoUserAgent_HEADER"],
            ),
        ),
        Rule("sqli", 11, "count", managed("AWSManagedRulesSQLiRuleSet")),
    ],
    default="block",
)
