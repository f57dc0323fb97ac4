"""Names: the rules AWS applies to them, ARNs, and logical IDs.

One function turns a resource name into a CloudFormation logical ID, so the same name shows
in the console, the SQLite registry and the rendered template.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sluiceway.core.errors import DeclarationError

_QUEUE = re.compile(r"[A-Za-z0-9_-]{1,80}")
_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,256}")
_FUNCTION = re.compile(r"[A-Za-z0-9_-]{1,64}")
_APP = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}")
_PARAMETER = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class Region:
    """Where ARNs say the resources live. Locally: LocalStack's conventional account."""

    region: str = "us-east-1"
    account_id: str = "000000000000"


def check_queue_name(name: str) -> None:
    base = name[: -len(".fifo")] if name.endswith(".fifo") else name
    if not isinstance(name, str) or not _QUEUE.fullmatch(base) or len(name) > 80:
        raise DeclarationError(
            f"queue {name!r}",
            "a queue name is 1-80 characters of letters, digits, '-' and '_' "
            "(a FIFO queue ends in '.fifo')",
            "rename the queue, e.g. 'orders-queue'",
        )


def check_table_name(name: str) -> None:
    if not isinstance(name, str) or not _TABLE.fullmatch(name):
        raise DeclarationError(
            f"table {name!r}",
            "a table name is 3-255 characters of letters, digits, '_', '-' and '.'",
            "rename the table, e.g. 'orders'",
        )


def check_topic_name(name: str) -> None:
    base = name[: -len(".fifo")] if name.endswith(".fifo") else name
    if not isinstance(name, str) or not _TOPIC.fullmatch(base) or len(name) > 256:
        raise DeclarationError(
            f"topic {name!r}",
            "a topic name is 1-256 characters of letters, digits, '-' and '_'",
            "rename the topic, e.g. 'order-events'",
        )


def check_function_name(name: str) -> None:
    if not isinstance(name, str) or not _FUNCTION.fullmatch(name):
        raise DeclarationError(
            f"function {name!r}",
            "a function name is 1-64 characters of letters, digits, '-' and '_'",
            "pass name='...' to the decorator with a valid name",
        )


def check_app_name(name: str) -> None:
    if not isinstance(name, str) or not _APP.fullmatch(name):
        raise DeclarationError(
            f"app {name!r}",
            "an app name starts with a letter and has up to 64 letters, digits and '-'",
            "rename the app, e.g. App('orders')",
        )


def check_parameter_name(name: str) -> None:
    if not isinstance(name, str) or not _PARAMETER.fullmatch(name):
        raise DeclarationError(
            f"parameter {name!r}",
            "a parameter name is lower_snake_case, starting with a letter",
            "rename it, e.g. 'notify_email'",
        )


def logical_id(name: str) -> str:
    """CloudFormation logical ID for a resource name: 'POC-Queue' -> 'POCQueue'."""
    parts = re.split(r"[^A-Za-z0-9]+", name)
    ident = "".join(p[:1].upper() + p[1:] for p in parts if p)
    if not ident or not ident[0].isalpha():
        ident = "R" + ident
    return ident


def queue_arn(where: Region, name: str) -> str:
    return f"arn:aws:sqs:{where.region}:{where.account_id}:{name}"


def queue_url(base: str, where: Region, name: str) -> str:
    return f"{base.rstrip('/')}/{where.account_id}/{name}"


def table_arn(where: Region, name: str) -> str:
    return f"arn:aws:dynamodb:{where.region}:{where.account_id}:table/{name}"


def stream_arn(where: Region, name: str, label: str) -> str:
    return f"{table_arn(where, name)}/stream/{label}"


def topic_arn(where: Region, name: str) -> str:
    return f"arn:aws:sns:{where.region}:{where.account_id}:{name}"


def function_arn(where: Region, name: str) -> str:
    return f"arn:aws:lambda:{where.region}:{where.account_id}:function:{name}"


def pipe_arn(where: Region, name: str) -> str:
    return f"arn:aws:pipes:{where.region}:{where.account_id}:pipe/{name}"


def rule_arn(where: Region, name: str) -> str:
    """An EventBridge rule's ARN (a scheduled function's rule)."""
    return f"arn:aws:events:{where.region}:{where.account_id}:rule/{name}"


def principal_id(principal: str) -> str:
    """An IAM-style unique id for a local principal, used as the SQS ``SenderId``
    ("AROA..." like an assumed role's id, then the session name)."""
    digest = hashlib.sha256(principal.encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    code = "".join(alphabet[b % 32] for b in digest[:17])
    return f"AROA{code}:{principal}"
