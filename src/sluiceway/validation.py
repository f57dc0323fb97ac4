"""Checks every declaration goes through; each failure names the resource and the fix."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from sluiceway.core.attrvalue import KeyType
from sluiceway.core.errors import DeclarationError
from sluiceway.specs import FILTER_POLICY_SCOPES, FilterPolicy, KeySpec, ResourceServerSpec

PATH = re.compile(r"/([A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*)?")
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+|\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
RESERVED_PATHS = ("/_sluiceway", "/console", "/metrics", "/oauth2", "/.well-known")


def route_shape(where: str, path: str) -> str:
    """Check a route's path template ('/orders/{id}', '/files/{path+}') as API Gateway
    would; return its shape ('/orders/{}'), which two routes of one method may not share."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise DeclarationError(where, "a path starts with '/'", "e.g. '/orders/{orderID}'")
    segments = [] if path == "/" else path[1:].split("/")
    names: set[str] = set()
    shape = []
    for i, segment in enumerate(segments):
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            raise DeclarationError(
                where,
                f"segment {segment!r} is neither plain (letters, digits, -._~) nor a {{parameter}}",
                "e.g. '/orders/{orderID}' or '/files/{path+}'",
            )
        name, greedy = match.group(1), match.group(2)
        if name is not None:
            if name in names:
                raise DeclarationError(where, f"parameter {name!r} appears twice", "rename one")
            if greedy and i != len(segments) - 1:
                raise DeclarationError(
                    where, f"greedy {{{name}+}} must be the last segment", "move it to the end"
                )
            names.add(name)
            shape.append("{+}" if greedy else "{}")
        else:
            shape.append(segment)
    if any(path == p or path.startswith(p + "/") for p in RESERVED_PATHS):
        raise DeclarationError(
            where,
            "the runtime serves this path itself",
            "choose a path outside " + ", ".join(RESERVED_PATHS),
        )
    return "/" + "/".join(shape)


HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}")
PIPE_NAME = re.compile(r"[.\-_A-Za-z0-9]{1,64}")
E164 = re.compile(r"\+[1-9][0-9]{1,14}")  # ITU-T E.164: + country code, at most 15 digits
EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*")


def in_range(where: str, option: str, value: Any, low: int, high: int, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DeclarationError(
            where,
            f"{option}={value!r} is outside {low}..{high}{unit}",
            f"choose an integer {option} between {low} and {high}",
        )


def key_spec(where: str, option: str, key: str | tuple[str, KeyType]) -> KeySpec:
    name, kind = (key, "S") if isinstance(key, str) else key
    if not isinstance(name, str) or not 1 <= len(name.encode()) <= 255:
        raise DeclarationError(
            where,
            f"{option} name {name!r} must be 1-255 bytes",
            "name the key attribute, e.g. 'orderID'",
        )
    if kind in ("S", "N", "B"):
        return KeySpec(name, cast(KeyType, kind))
    raise DeclarationError(
        where, f"{option} type {kind!r} is not a key type", "use 'S', 'N' or 'B'"
    )


def filter_patterns(
    where: str,
    filter: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
    context: Literal["esm", "pipes"] = "esm",
) -> tuple[str, ...]:
    from sluiceway.patterns import PatternError, compile_filters

    if filter is None:
        return ()
    patterns = [filter] if isinstance(filter, Mapping) else list(filter)
    try:
        compiled = compile_filters(patterns, context=context)
    except PatternError as error:
        raise DeclarationError(
            where, f"invalid filter: {error}", "fix the event pattern (see `sluiceway match`)"
        ) from None
    return tuple(p.source for p in compiled.patterns)


def filter_policy(
    where: str, policy: Mapping[str, Any] | str | None, scope: str
) -> FilterPolicy | None:
    """An SNS filter policy, checked as SNS checks it for its scope."""
    from sluiceway.patterns import PatternError, compile_pattern

    if scope not in FILTER_POLICY_SCOPES:
        raise DeclarationError(
            where,
            f"filter_policy_scope={scope!r} is not a scope SNS knows",
            "use 'MessageAttributes' (the default) or 'MessageBody'",
        )
    if policy is None:
        return None
    context: Literal["sns-attributes", "sns-body"] = (
        "sns-attributes" if scope == "MessageAttributes" else "sns-body"
    )
    try:
        compiled = compile_pattern(policy, context=context)
    except PatternError as error:
        raise DeclarationError(
            where, f"invalid filter policy: {error}", "fix the policy (see `sluiceway match`)"
        ) from None
    return FilterPolicy(compiled.source, scope)


def check_handler(where: str, handler: Callable[..., Any]) -> None:
    if not callable(handler):
        raise DeclarationError(
            where,
            "the decorated object is not callable",
            "decorate a function def handler(event, context)",
        )
    try:
        inspect.signature(handler).bind(None, None)
    except TypeError:
        raise DeclarationError(
            where,
            "a handler takes two arguments (event, context)",
            "define it as def handler(event, context)",
        ) from None
    except ValueError:
        return


def check_endpoint(
    where: str, protocol: str, endpoint: str, queues: Collection[str] | None = None
) -> None:
    """Check a subscription endpoint as SNS would for its protocol."""
    if not isinstance(endpoint, str) or not endpoint:
        raise DeclarationError(where, "the endpoint is empty", "give an address")
    if protocol in ("email", "email-json") and not EMAIL.fullmatch(endpoint):
        raise DeclarationError(
            where, f"{endpoint!r} is not an email address", "use e.g. 'ops@example.com'"
        )
    if protocol == "sms" and not E164.fullmatch(endpoint):
        raise DeclarationError(
            where,
            f"{endpoint!r} is not a phone number in E.164 form",
            "use + and the country code, digits only, e.g. '+919876543210'",
        )
    if protocol in ("http", "https") and not re.fullmatch(
        rf"{protocol}://[^\s/]+(/\S*)?", endpoint
    ):
        raise DeclarationError(
            where,
            f"{endpoint!r} is not an {protocol}:// URL",
            f"use e.g. '{protocol}://example.com/hook'",
        )
    if protocol == "sqs":
        name = endpoint.rsplit(":", 1)[-1]
        if queues is not None and name not in queues:
            raise DeclarationError(
                where,
                f"queue '{name}' is not declared in this app",
                "subscribe a queue of this app by its name",
            )


# -- Cognito ----------------------------------------------------------------------------------

POOL_NAME = re.compile(r"[\w\s+=,.@-]{1,128}")
DOMAIN_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
SERVER_IDENTIFIER = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,256}")
SCOPE_NAME = re.compile(r"[\x21\x23-\x2e\x30-\x5b\x5d-\x7e]{1,256}")


def user_pool(where: str, name: str, domain: str | None, token_validity: int) -> None:
    """A user pool's name, domain prefix and token lifetime, as Cognito checks them."""
    if not isinstance(name, str) or not POOL_NAME.fullmatch(name):
        raise DeclarationError(
            where, "a user pool name is 1-128 letters, digits, spaces and +=,.@-", "rename it"
        )
    if domain is not None and (
        not isinstance(domain, str)
        or not DOMAIN_PREFIX.fullmatch(domain)
        or any(word in domain for word in ("aws", "amazon", "cognito"))
    ):
        raise DeclarationError(
            where,
            f"domain={domain!r}: a domain prefix is 1-63 lowercase letters, digits and "
            "hyphens (not at either end) and may not contain aws, amazon or cognito",
            "choose e.g. domain='my-devices'",
        )
    in_range(where, "access_token_validity", token_validity, 300, 86_400, " seconds")


def resource_server(
    where: str,
    identifier: str,
    scopes: Mapping[str, str],
    name: str | None,
    known: Mapping[str, Any],
) -> ResourceServerSpec:
    """A resource server and its scopes, as Cognito checks them."""
    here = f"{where}: resource server {identifier!r}"
    if not isinstance(identifier, str) or not SERVER_IDENTIFIER.fullmatch(identifier):
        raise DeclarationError(
            here,
            "an identifier is 1-256 printable characters without quotes or backslashes",
            "e.g. 'devices'",
        )
    if identifier in known:
        raise DeclarationError(here, "declared twice", "declare each resource server once")
    if not isinstance(scopes, Mapping) or not scopes or len(scopes) > 100:
        raise DeclarationError(
            here, "scopes maps 1-100 scope names to descriptions", "e.g. scopes={'send': 'post'}"
        )
    for scope, description in scopes.items():
        if not isinstance(scope, str) or not SCOPE_NAME.fullmatch(scope):
            raise DeclarationError(
                here,
                f"scope {scope!r}: 1-256 printable characters, no '/', quote or backslash",
                "rename it",
            )
        if not isinstance(description, str) or not 1 <= len(description) <= 256:
            raise DeclarationError(
                here, f"scope {scope!r} needs a description of 1-256 characters", "describe it"
            )
    return ResourceServerSpec(identifier, name or identifier, tuple(scopes.items()))


# -- a function's runtime: timeout, memory, environment, concurrency ------------------------


@dataclass(frozen=True)
class FunctionRuntime:
    """A function's runtime options, checked: what every trigger's decorator shares."""

    timeout: int
    memory_size: int
    environment: tuple[tuple[str, str], ...]
    reserved_concurrency: int | None


# Lambda refuses these in a function's Environment: it sets them itself. SLUICEWAY_* are
# the AWS shim's own (which app, which function, where each resource is).
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)
_VARIABLE = re.compile(r"[a-zA-Z][a-zA-Z0-9_]+")
ENVIRONMENT_LIMIT = 4096  # bytes of keys and values together, as Lambda counts them


def environment_variables(
    where: str, environment: Mapping[str, str] | None
) -> tuple[tuple[str, str], ...]:
    """A function's `environment=`, checked as Lambda checks Environment.Variables."""
    if environment is None:
        return ()
    if not isinstance(environment, Mapping):
        raise DeclarationError(
            where,
            f"environment={environment!r} is not a mapping",
            'pass environment={"NAME": "value"}',
        )
    size = 0
    for key, value in environment.items():
        if not isinstance(key, str) or not _VARIABLE.fullmatch(key):
            raise DeclarationError(
                where,
                f"environment variable name {key!r} is not allowed",
                "start with a letter; use letters, digits and _ (two characters or more)",
            )
        if key in RESERVED_VARIABLES or key.startswith("SLUICEWAY_"):
            raise DeclarationError(
                where,
                f"environment variable {key} is reserved: Lambda sets it",
                "choose another name",
            )
        if not isinstance(value, str):
            raise DeclarationError(
                where,
                f"environment variable {key}={value!r} is not a string",
                f"pass str(value) (Lambda's variables are strings): {key}={str(value)!r}",
            )
        size += len(key.encode()) + len(value.encode())
    if size > ENVIRONMENT_LIMIT:
        raise DeclarationError(
            where,
            f"environment variables take {size} bytes, more than Lambda's {ENVIRONMENT_LIMIT}",
            "keep large values in a parameter (--set) or a table",
        )
    return tuple(sorted(environment.items()))
