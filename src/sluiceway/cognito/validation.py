"""What a user pool declaration must satisfy: names, domain prefix, resource servers, scopes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sluiceway.cognito.spec import ClientSpec, ResourceServerSpec
from sluiceway.core.errors import DeclarationError
from sluiceway.core.validation import in_range

POOL_NAME = re.compile(r"[\w\s+=,.@-]{1,128}")


DOMAIN_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


SERVER_IDENTIFIER = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,256}")


SCOPE_NAME = re.compile(r"[\x21\x23-\x2e\x30-\x5b\x5d-\x7e]{1,256}")


CLIENT_ID = re.compile(r"[\w+]{1,128}")


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


def app_client(
    where: str,
    client_id: str,
    name: str,
    scopes: tuple[str, ...],
    defined: frozenset[str],
    known: Mapping[str, ClientSpec],
) -> ClientSpec:
    """A declared app client, as Cognito checks one for the client_credentials flow: a
    name, an id, and at least one scope, each defined by the pool's resource servers."""
    if not isinstance(name, str) or not POOL_NAME.fullmatch(name):
        raise DeclarationError(
            where, "a client name is 1-128 letters, digits, spaces and +=,.@-", "rename it"
        )
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise DeclarationError(
            where, f"client_id={client_id!r}: 1-128 letters, digits, _ and +", "fix it"
        )
    if client_id in known or any(client.name == name for client in known.values()):
        raise DeclarationError(where, "declared twice", "declare each app client once")
    wanted = tuple(dict.fromkeys(scopes))
    if not wanted or not all(isinstance(scope, str) for scope in wanted):
        raise DeclarationError(
            where,
            "a client_credentials client needs at least one scope",
            "e.g. scopes=['devices/send']",
        )
    unknown = sorted(set(wanted) - defined)
    if unknown:
        raise DeclarationError(
            where,
            f"scope {', '.join(unknown)} is not defined by the pool's resource servers "
            "(client credentials grant only resource server scopes)",
            "declare it with pool.resource_server(identifier, scopes={...}) first",
        )
    return ClientSpec(client_id, name, wanted)
