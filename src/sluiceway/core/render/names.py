"""Every name the template uses, derived from the declared names.

Each logical ID is a declared name (or a phrase built from it) passed through
`sluiceway.core.naming.logical_id`, the one function that turns names into logical IDs, so
``POC-Queue`` is ``POCQueue`` here, in the local registry and in the console. Physical names
are the declared names themselves, where AWS lets a template choose them.
"""

from __future__ import annotations

from typing import Literal

from sluiceway.core.naming import logical_id
from sluiceway.core.specs import ParameterRef

HandleKind = Literal["queue", "table", "topic"]

# The two variables that tell the Lambda shim which app and which of its functions to run.
APP_VARIABLE = "SLUICEWAY_APP"
FUNCTION_VARIABLE = "SLUICEWAY_FUNCTION"


def resource_id(name: str) -> str:
    """A queue, table, topic, function or pipe: its declared name as a logical ID."""
    return logical_id(name)


def parameter_id(parameter: ParameterRef) -> str:
    return logical_id(parameter.name)


def derived_parameter_id(name: str) -> str:
    """A parameter the renderer adds (a user pool's domain prefix), named like an app's."""
    return logical_id(name)


def role_id(runner: str) -> str:
    """The execution role of a function, or of a pipe (what Pipes assumes to read its source
    and call its enrichment, target and dead-letter destination)."""
    return logical_id(f"{runner}-role")


def queue_policy_id(queue: str) -> str:
    """A queue's resource policy: which topics may send to it."""
    return logical_id(f"{queue}-policy")


def topic_subscription_id(function: str) -> str:
    """The subscription of a function to its topic (SNS's lambda protocol)."""
    return logical_id(f"{function}-subscription")


def invoke_permission_id(function: str) -> str:
    """The resource policy letting SNS or API Gateway invoke a function."""
    return logical_id(f"{function}-invoke-permission")


def api_id(app_name: str) -> str:
    return logical_id(f"{app_name}-api")


def http_api_id(app_name: str) -> str:
    """The app's HTTP API (API Gateway v2), holding its payload format 2.0 routes."""
    return logical_id(f"{app_name}-http-api")


HTTP_API_EVENT = "HttpApi"
"""The key of a 2.0 route in its function's SAM ``Events`` (SAM names the invoke permission
it makes ``<function id>HttpApiPermission``)."""


def output_id(name: str, what: str) -> str:
    return logical_id(f"{name}-{what}")


def env_var(kind: HandleKind, name: str) -> str:
    """The environment variable that carries a resource's physical identifier to Lambda:
    a queue's URL, a table's name, a topic's ARN."""
    return f"SLUICEWAY_{kind.upper()}_{logical_id(name)}"


# -- user pools, the firewall, IoT --------------------------------------------------------


def user_pool_id(pool: str) -> str:
    """A Cognito user pool: its declared name, as for every other resource."""
    return logical_id(pool)


def user_pool_domain_id(pool: str) -> str:
    return logical_id(f"{pool}-user-pool-domain")


def user_pool_client_id(pool: str) -> str:
    """The app client rendered for a pool."""
    return logical_id(f"{pool}-app-client")


def resource_server_id(pool: str, identifier: str) -> str:
    return logical_id(f"{pool}-{identifier}-resource-server")


def authorizer_id(pool: str) -> str:
    """The API's COGNITO_USER_POOLS authorizer for one pool (an OpenAPI security scheme)."""
    return logical_id(f"{pool}-authorizer")


def web_acl_id(app_name: str) -> str:
    return logical_id(f"{app_name}-firewall")


def web_acl_association_id(app_name: str) -> str:
    return logical_id(f"{app_name}-firewall-association")


def ip_set_id(app_name: str, rule: str, version: int) -> str:
    """The WAF IP set of one rule's addresses of one IP version (a set holds one)."""
    return logical_id(f"{app_name}-firewall-{rule}-ipv{version}")


# The variable that carries the account's IoT data endpoint (empty: botocore's default), and
# the template parameter it is set from (a deployment sets it by this name).
IOT_ENDPOINT_VARIABLE = "SLUICEWAY_IOT_ENDPOINT"
IOT_ENDPOINT_PARAMETER = "iot_data_endpoint"
