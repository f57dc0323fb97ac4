"""`load_stack`: a template, its parameters and samconfig.toml, as an `App` on the local engine.

The order is CloudFormation's: parameters (samconfig.toml's, then ``--parameter-overrides``),
the SAM transform, conditions, then each resource's importer; a resource's properties are
resolved when something needs them, so references decide the order, not the file. What has no
local meaning is listed (`Stack.notes`); a type sluiceway does not emulate that an emulated
resource refers to stops the start, naming both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sluiceway.app import App
from sluiceway.core.errors import DeclarationError
from sluiceway.templates import (
    apis,
    document,
    firewall,
    functions,
    http_apis,
    identity,
    iot,
    messaging,
    pipes,
    sam,
    schedules,
    tables,
)
from sluiceway.templates.build import Build
from sluiceway.templates.errors import TemplateError
from sluiceway.templates.intrinsics import Pseudo
from sluiceway.templates.parameters import parameter_values
from sluiceway.templates.samconfig import samconfig_parameters

ORIGIN_PREFIX = "template:"

# The importers, in the order their resources are declared (what others need comes first).
IMPORTERS: tuple[tuple[str, Callable[[Build, str], Any]], ...] = (
    ("AWS::SQS::Queue", messaging.queue),
    ("AWS::SQS::QueuePolicy", messaging.queue_policy),
    ("AWS::DynamoDB::Table", tables.table),
    ("AWS::SNS::Topic", messaging.topic),
    ("AWS::SNS::Subscription", messaging.subscription),
    ("AWS::Cognito::UserPool", identity.user_pool),
    ("AWS::ApiGateway::RestApi", apis.rest_api),
    ("AWS::ApiGatewayV2::Api", http_apis.http_api),
    ("AWS::WAFv2::WebACLAssociation", firewall.association),
    ("AWS::WAFv2::WebACL", firewall.web_acl),
    ("AWS::Lambda::EventSourceMapping", functions.event_source_mapping),
    ("AWS::Events::Rule", schedules.rule),
    ("AWS::Scheduler::Schedule", schedules.schedule),
    ("AWS::Lambda::Function", functions.function),
    ("AWS::IoT::TopicRule", iot.topic_rule),  # its Lambda actions' functions are declared
    ("AWS::Pipes::Pipe", pipes.pipe),
)
# Read by the importers of the resources above (a role by its function, a stage by its API).
CONSUMED = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::ApiGateway::Resource",
        "AWS::ApiGateway::Method",
        "AWS::ApiGateway::Stage",
        "AWS::ApiGateway::Deployment",
        "AWS::Lambda::LayerVersion",
        "AWS::ApiGateway::ApiKey",
        "AWS::ApiGateway::UsagePlan",
        "AWS::ApiGateway::UsagePlanKey",
        "AWS::ApiGatewayV2::Stage",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Deployment",
        "AWS::WAFv2::IPSet",
        "AWS::ApiGateway::Authorizer",
        "AWS::ApiGatewayV2::Authorizer",
        "AWS::Cognito::UserPoolDomain",
        "AWS::Cognito::UserPoolResourceServer",
        "AWS::Cognito::UserPoolClient",
    }
)
# Emulated, but what they refer to is checked by their importer: an association with a
# resource sluiceway lacks is only listed, a web ACL's rule names what it cannot evaluate.
SELF_CHECKED = frozenset({"AWS::WAFv2::WebACL", "AWS::WAFv2::WebACLAssociation"})
# No local meaning: listed once at start, never an obstacle.
IGNORED: dict[str, str] = {
    "AWS::Logs::LogGroup": "logs go to the runtime's log",
    "AWS::Logs::SubscriptionFilter": "logs go to the runtime's log",
    "AWS::KMS::Key": "local data is not encrypted with KMS",
    "AWS::KMS::Alias": "local data is not encrypted with KMS",
    "AWS::CloudWatch::Alarm": "no metrics alarms locally (see /metrics)",
    "AWS::CloudWatch::Dashboard": "no dashboards locally (see the console)",
    "AWS::Lambda::Permission": "the runtime invokes functions itself",
    "AWS::Lambda::Version": "functions run their $LATEST code",
    "AWS::Lambda::Alias": "functions run their $LATEST code",
    "AWS::Lambda::EventInvokeConfig": "asynchronous invoke settings are not emulated",
    "AWS::SNS::TopicPolicy": "local topics take publishes the runtime authorizes",
    "AWS::ApiGateway::Account": "API Gateway logging settings have no local meaning",
    "AWS::ApiGateway::Model": "models are not enforced on template APIs",
    "AWS::ApiGateway::RequestValidator": "validators are not enforced on template APIs",
    "AWS::ApiGateway::GatewayResponse": "gateway responses are not customised locally",
    "AWS::XRay::Group": "tracing is the runtime's own (see the console)",
    "AWS::XRay::SamplingRule": "tracing is the runtime's own (see the console)",
    "AWS::IAM::InstanceProfile": "no EC2 locally",
    "AWS::ApplicationAutoScaling::ScalableTarget": "no scaling on one machine",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "no scaling on one machine",
    "AWS::SSM::Parameter": "no parameter store locally",
    "AWS::WAFv2::LoggingConfiguration": "firewall decisions go to the runtime's log",
    "AWS::Lambda::CapacityProvider": "functions run in the runtime's own execution "
    "environments (no Lambda Managed Instances fleet locally)",
}


@dataclass
class Stack:
    """A template loaded as an app: what `sluiceway run` serves and prints."""

    app: App
    path: Path
    outputs: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (value, text)
    notes: list[str] = field(default_factory=list)
    api_keys: dict[str, str] = field(default_factory=dict)  # what x-api-key takes, by key

    def local_outputs(self, base_url: str) -> dict[str, str]:
        """The Outputs with AWS's endpoints turned into the runtime's (``https://<id>.
        execute-api.<region>.amazonaws.com`` and SQS's queue URLs -> `base_url`)."""
        return {name: localize(value, base_url) for name, (value, _) in self.outputs.items()}


_API_HOST = re.compile(r"https://[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com")
_SQS_HOST = re.compile(r"https://sqs\.[a-z0-9-]+\.amazonaws\.com")
# A user pool domain's hosted endpoints (its /oauth2/token is the runtime's).
_COGNITO_HOST = re.compile(r"https://[a-z0-9-]+\.auth\.[a-z0-9-]+\.amazoncognito\.com")


def localize(value: str, base_url: str) -> str:
    base = base_url.rstrip("/")
    for host in (_API_HOST, _SQS_HOST, _COGNITO_HOST):
        value = host.sub(base, value)
    return value


def load_stack(
    target: str,
    overrides: Mapping[str, str] | None = None,
    *,
    region: str = "us-east-1",
    account_id: str = "000000000000",
    config_env: str = "default",
    stack_name: str | None = None,
) -> Stack:
    path = document.find(target)
    template = document.read(path)
    folder = path.parent
    given = {**samconfig_parameters(folder, config_env), **(overrides or {})}
    parameters = parameter_values(template, given)
    name = stack_name or _stack_name(folder)
    pseudo = Pseudo(region=region, account_id=account_id, stack_name=name)
    pseudo_values = {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::StackName": name,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }
    transformed = sam.transform(template, folder, {**parameters, **pseudo_values}, region)
    app = App(_app_name(name))
    app.origin = f"{ORIGIN_PREFIX}{path}"
    build = Build(app, transformed.template, parameters, pseudo, transformed.local_paths, folder)
    for logical in build.of_type("AWS::Lambda::Function"):
        functions.check_function(build, logical)  # the clearest refusal comes first
    _check_types(build)
    for kind, importer in IMPORTERS:
        for logical in build.of_type(kind):
            try:
                importer(build, logical)
            except DeclarationError as error:
                raise TemplateError(build.where(logical), error.problem, error.fix) from None
    if any(f.role is not None and f.role.mentions("iot:Publish") for f in app.graph.functions):
        app.iot()  # the functions' roles let them publish over MQTT (iot-data Publish)
    stack = Stack(app, path, notes=build.notes, api_keys=build.api_keys)
    for key, output in (transformed.template.get("Outputs") or {}).items():
        where = f"output '{key}'"
        if (
            isinstance(output, dict)
            and "Condition" in output
            and not build.resolver.condition(str(output["Condition"]), where)
        ):
            continue
        value = build.resolver.resolve(
            output.get("Value") if isinstance(output, dict) else None, where
        )
        text = value if isinstance(value, str) else json.dumps(value)
        stack.outputs[key] = (
            text,
            str(output.get("Description", "")) if isinstance(output, dict) else "",
        )
    return stack


def _stack_name(folder: Path) -> str:
    text = re.sub(r"[^A-Za-z0-9-]+", "-", folder.name).strip("-")
    text = text if text and text[0].isalpha() else f"stack-{text}"
    return text[:64] or "sluiceway"


def _app_name(stack: str) -> str:
    name = re.sub(r"[^A-Za-z0-9-]", "-", stack)
    return (name if name[:1].isalpha() else f"s-{name}")[:64]


def _check_types(build: Build) -> None:
    """Note what is ignored; refuse a type sluiceway lacks that an emulated resource needs."""
    emulated = {kind for kind, _ in IMPORTERS} | CONSUMED
    unknown: dict[str, str] = {}
    for logical, kind in build.included():
        if kind in IGNORED:
            build.note(f"resource '{logical}' ({kind}) is not emulated: {IGNORED[kind]}")
        elif kind not in emulated:
            unknown[logical] = kind
    for logical, kind in build.included():
        if kind not in emulated or kind in SELF_CHECKED:
            continue
        for needed in _references(build.resources[logical]):
            if needed in unknown:
                raise TemplateError(
                    f"resource '{needed}' ({unknown[needed]})",
                    f"is not emulated by sluiceway, and '{logical}' ({kind}) depends on it",
                    "remove the dependency for the local run, or run that part on AWS "
                    "(docs/conformance.md lists the types that run)",
                )
    for logical, kind in unknown.items():
        for needed in _references(build.resources[logical]):
            if build.resources.get(needed, {}).get("Type") == "AWS::Lambda::Function":
                raise TemplateError(
                    f"resource '{logical}' ({kind})",
                    f"is not emulated by sluiceway, and it is an event source of '{needed}' "
                    "(AWS::Lambda::Function)",
                    "remove that trigger for the local run, or invoke the function another way "
                    "(docs/conformance.md lists the types that run)",
                )
        build.note(f"resource '{logical}' ({kind}) is not emulated (nothing here depends on it)")


def _references(value: Any) -> Iterator[str]:
    """The logical ids `value` refers to (Ref, Fn::GetAtt, ${...} in Fn::Sub, DependsOn)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                yield item
            elif key == "Fn::GetAtt":
                first = item[0] if isinstance(item, list) and item else str(item).split(".")[0]
                if isinstance(first, str):
                    yield first
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) and item else item
                if isinstance(text, str):
                    yield from (m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text))
                if isinstance(item, list):
                    yield from _references(item[1:])
            elif key == "DependsOn":
                yield from (
                    [item] if isinstance(item, str) else (i for i in item if isinstance(i, str))
                )
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)
