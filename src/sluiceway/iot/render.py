"""IoT Core on AWS: the ``iot:Publish`` resources of the declared topic allowlist, and the data
endpoint the Lambda shim publishes through.

IoT Core needs no resource to publish: a topic exists when something publishes to it. What
the app declares (``app.iot(topics=[...])``) becomes the resources of every publishing
function's policy, one topic ARN per name or filter:

* a name is its own ARN (``MyTopic`` -> ``topic/MyTopic``);
* ``+`` becomes ``*`` (``devices/+/inbox`` -> ``topic/devices/*/inbox``);
* a trailing ``#`` becomes ``*``, and since MQTT's ``devices/#`` also matches ``devices``
  itself, that parent gets its own ARN (``topic/devices`` and ``topic/devices/*``); a bare
  ``#`` is ``topic/*``, every topic of the account in the Region.

IAM has no single-level wildcard, so ``*`` for ``+`` also spans slashes
(``devices/a/b/inbox``): the policy is the tightest IAM can write, and the exact rule is the
allowlist the handle checks before any publish, locally and in Lambda alike. Characters IAM
or Fn::Sub would read as syntax (``*``, ``?``, ``$``) in a declared name are escaped, so they
match only themselves.

The data endpoint: botocore's default for ``iot-data`` is the Region's
``data-ats.iot.<region>.amazonaws.com``, which AWS documents for testing; production code
should use the account's own endpoint (``aws iot describe-endpoint --endpoint-type
iot:Data-ATS``). Looking it up from Lambda needs ``iot:DescribeEndpoint``, which IAM grants
only on ``"*"``, so it is a template parameter instead: empty (the default) means botocore's
endpoint, a host name means that endpoint.
"""

from __future__ import annotations

from typing import Any

from sluiceway.core.cfn import DeployParameter, sub
from sluiceway.core.render import names
from sluiceway.core.render.checks import RenderedFields, check_rendered
from sluiceway.core.render.fragment import Fragment
from sluiceway.iot.spec import IotSpec

RENDERED_FIELDS: RenderedFields = {IotSpec: frozenset({"topics"})}
DESCRIBED = "iot (app.iot)"  # how an error names the app's IoT declaration

TOPIC_ARN_PREFIX = "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:topic/"
ENDPOINT_PARAMETER = names.IOT_ENDPOINT_PARAMETER
ENDPOINT_PATTERN = r"^$|^[a-z0-9-]+\.iot\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"
# IAM's escapes for characters that are wildcards or variables in a policy's resource.
_IAM_LITERALS = {"*": "${*}", "?": "${?}", "$": "${$}"}


def endpoint_parameter() -> DeployParameter:
    """The template parameter holding the account's IoT data endpoint (a host name)."""
    return DeployParameter(
        ENDPOINT_PARAMETER,
        names.derived_parameter_id(ENDPOINT_PARAMETER),
        {
            "Type": "String",
            "Default": "",
            "Description": (
                "This account's IoT data endpoint, from `aws iot describe-endpoint "
                "--endpoint-type iot:Data-ATS --query endpointAddress --output text` "
                "(empty: the Region's default data-ats endpoint)"
            ),
            "AllowedPattern": ENDPOINT_PATTERN,
            "ConstraintDescription": "a host name like abc123-ats.iot.us-east-1.amazonaws.com",
        },
    )


def resource_patterns(spec: IotSpec) -> list[str]:
    """The IAM resource patterns, after ``topic/``, of the declared names and filters (each
    once, in declaration order; not yet escaped for Fn::Sub)."""
    patterns: dict[str, None] = {}
    for topic_filter in spec.topics:
        levels = topic_filter.split("/")
        if levels[-1] == "#" and len(levels) > 1:
            patterns[_iam_levels(levels[:-1])] = None  # `a/#` matches `a` too
        patterns[_iam_levels(levels)] = None
    return list(patterns)


def topic_arns(spec: IotSpec) -> list[Any]:
    """The ARNs a publishing function's ``iot:Publish`` statement names."""
    return [
        sub(TOPIC_ARN_PREFIX + pattern.replace("${", "${!")) for pattern in resource_patterns(spec)
    ]


def _iam_levels(levels: list[str]) -> str:
    return "/".join(
        "*" if level in ("+", "#") else "".join(_IAM_LITERALS.get(c, c) for c in level)
        for level in levels
    )


def render_iot(spec: IotSpec) -> Fragment:
    """No resource (publishing needs none; the topics are the publishers' policies): the
    parameter naming the account's data endpoint."""
    check_rendered(spec, DESCRIBED, RENDERED_FIELDS)
    parameter = endpoint_parameter()
    return Fragment(parameters={parameter.logical: parameter.rendered})
