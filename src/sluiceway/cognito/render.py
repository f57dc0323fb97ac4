"""A user pool for OAuth2 client credentials, as Cognito resources, and the API's authorizer.

Each declared pool renders a ``AWS::Cognito::UserPool`` (no self sign-up: its only callers
are machines), a ``UserPoolDomain`` whose prefix is a template parameter (prefixes are
unique per Region across every AWS account, so the declared one is only a default), and one
``UserPoolResourceServer`` per resource server with its scopes. A route or function declared
with ``auth=pool.requires(...)`` gets the pool's ``COGNITO_USER_POOLS`` authorizer, written
into the OpenAPI definition as SAM itself writes one (a security scheme, and on the method a
security requirement whose list is the method's ``AuthorizationScopes``: any one suffices, as
locally).

Where Cognito differs from the declaration, decided here:

* App clients. Locally they are made at run time (``sluiceway clients create``). On AWS
  each pool gets one app client as the seed's template has (``<pool>-app``: client
  credentials, every scope of the pool, the pool's ``access_token_validity``, a generated
  secret); the stack outputs its id and the command that prints its secret (CloudFormation
  cannot output a secret), and the command making more clients, each with only the scopes
  it needs.
* A resource server's name is only a label (tokens carry its identifier); characters
  Cognito refuses in one are replaced (`server_name`).
* The authorizer reads the token from the ``Authorization`` header; send it raw, as the
  seed does (the local authorizer also takes ``Bearer <token>``). API Gateway's own refusals
  (``UNAUTHORIZED``, 401; ``ACCESS_DENIED``, 403; API Gateway, not the app, decides which
  one a token without the scope gets) are answered in the local gateway's
  ``{"message", "code"}`` shape with a ``WWW-Authenticate: Bearer`` challenge (`api`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from typing import Any

from sluiceway.cognito.spec import AuthSpec, ResourceServerSpec, UserPoolSpec
from sluiceway.core.cfn import DeployParameter, get_att, ref, sub
from sluiceway.core.render import names
from sluiceway.core.render.checks import RenderedFields, check_rendered, described
from sluiceway.core.render.fragment import Fragment

RENDERED_FIELDS: RenderedFields = {
    UserPoolSpec: frozenset({"name", "domain", "resource_servers", "access_token_validity"}),
    ResourceServerSpec: frozenset({"identifier", "name", "scopes"}),
    AuthSpec: frozenset({"pool", "scopes"}),
}

# What Cognito accepts as a domain prefix (the app model checks the declared one the same way).
DOMAIN_PREFIX_PATTERN = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
# A client is made with a name; the output's command names one to be replaced.
CLIENT_NAME_PLACEHOLDER = "my-client"
_SERVER_NAME_REFUSED = re.compile(r"[^\w\s+=,.@-]")


def domain_parameter(pool: UserPoolSpec) -> DeployParameter:
    """The template parameter holding the pool's domain prefix (its default: the declared
    one; without one, the deployment must choose it)."""
    name = re.sub(r"[^a-z0-9]+", "_", pool.name.lower()).strip("_") or "pool"
    if not name[0].isalpha():
        name = f"pool_{name}"
    name = f"{name}_domain_prefix"
    rendered: dict[str, Any] = {
        "Type": "String",
        "Description": (
            f"Domain prefix of user pool {pool.name}: its token endpoint is "
            "https://<prefix>.auth.<region>.amazoncognito.com/oauth2/token (unique per Region "
            "across all AWS accounts; may not contain aws, amazon or cognito)"
        ),
        "AllowedPattern": DOMAIN_PREFIX_PATTERN,
        "ConstraintDescription": "1-63 lowercase letters, digits and hyphens (not at either end)",
    }
    if pool.domain is not None:
        rendered["Default"] = pool.domain
    return DeployParameter(name, names.derived_parameter_id(name), rendered)


def server_name(name: str) -> str:
    """A resource server's display name as Cognito takes it: the declared name (by default
    its identifier, often a URL), with each character Cognito refuses in a name (``:``,
    ``/``, ...) replaced by ``-``. Only people read it; tokens carry the identifier."""
    return _SERVER_NAME_REFUSED.sub("-", name)


def scopes(pool: UserPoolSpec) -> list[str]:
    """Every full scope (``identifier/name``) the pool's resource servers define, in
    declaration order."""
    return [
        f"{server.identifier}/{scope}"
        for server in pool.resource_servers
        for scope, _ in server.scopes
    ]


def render_pool(pool: UserPoolSpec) -> tuple[dict[str, Any], dict[str, Any], DeployParameter]:
    """The pool's resources, its outputs and its domain-prefix parameter."""
    logical = names.user_pool_id(pool.name)
    domain = names.user_pool_domain_id(pool.name)
    parameter = domain_parameter(pool)
    resources: dict[str, Any] = {
        logical: {
            "Type": "AWS::Cognito::UserPool",
            # Said out loud: `sluiceway destroy aws` removes the pool's app clients too.
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "UserPoolName": pool.name,
                # Machine-to-machine only: nobody signs up, no user is ever made.
                "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
            },
        },
        domain: {
            "Type": "AWS::Cognito::UserPoolDomain",
            "Properties": {"Domain": ref(parameter.logical), "UserPoolId": ref(logical)},
        },
    }
    for server in pool.resource_servers:
        resources[names.resource_server_id(pool.name, server.identifier)] = {
            "Type": "AWS::Cognito::UserPoolResourceServer",
            "Properties": {
                "UserPoolId": ref(logical),
                "Identifier": server.identifier,
                "Name": server_name(server.name),
                "Scopes": [
                    {"ScopeName": scope, "ScopeDescription": description}
                    for scope, description in server.scopes
                ],
            },
        }
    client = names.user_pool_client_id(pool.name)
    resources[client] = {
        "Type": "AWS::Cognito::UserPoolClient",
        # The scopes must exist before a client may be granted them.
        "DependsOn": [
            names.resource_server_id(pool.name, server.identifier)
            for server in pool.resource_servers
        ],
        "Properties": {
            "UserPoolId": ref(logical),
            "ClientName": f"{pool.name}-app",
            "GenerateSecret": True,
            "AllowedOAuthFlows": ["client_credentials"],
            "AllowedOAuthFlowsUserPoolClient": True,
            "AllowedOAuthScopes": scopes(pool),
            "SupportedIdentityProviders": ["COGNITO"],
            "AccessTokenValidity": pool.access_token_validity,
            "TokenValidityUnits": {"AccessToken": "seconds"},
        },
    }
    outputs = {
        names.output_id(pool.name, "app-client-id"): {
            "Description": f"Id of the app client of user pool {pool.name}",
            "Value": ref(client),
        },
        names.output_id(pool.name, "app-client-secret-command"): {
            "Description": f"Prints the secret of the app client of user pool {pool.name}",
            "Value": sub(
                f"aws cognito-idp describe-user-pool-client --user-pool-id ${{{logical}}} "
                f"--client-id ${{{client}}} --query UserPoolClient.ClientSecret --output text"
            ),
        },
        names.output_id(pool.name, "user-pool-id"): {
            "Description": f"Id of user pool {pool.name}",
            "Value": ref(logical),
        },
        names.output_id(pool.name, "token-url"): {
            "Description": f"Token endpoint of user pool {pool.name} (client credentials)",
            "Value": sub(
                f"https://${{{parameter.logical}}}.auth.${{AWS::Region}}.amazoncognito.com"
                "/oauth2/token"
            ),
        },
        names.output_id(pool.name, "create-client-command"): {
            "Description": (
                f"Makes an app client of user pool {pool.name} (prints its id and secret); "
                "name it, and keep only the scopes it needs"
            ),
            "Value": sub(create_client_command(pool)),
        },
    }
    return resources, outputs, parameter


def create_client_command(pool: UserPoolSpec) -> str:
    """The AWS CLI command making an app client for client credentials with every scope of
    the pool and the pool's access token lifetime (what ``sluiceway clients create`` does
    locally), as the text of an Fn::Sub that fills in the pool id."""
    # Fn::Sub reads "${" as a substitution: a scope holding one is written "${!".
    granted = " ".join(shlex.quote(s).replace("${", "${!") for s in scopes(pool))
    return " ".join(
        [
            "aws cognito-idp create-user-pool-client",
            f"--user-pool-id ${{{names.user_pool_id(pool.name)}}}",
            f"--client-name {CLIENT_NAME_PLACEHOLDER}",
            "--generate-secret",
            "--allowed-o-auth-flows client_credentials",
            "--allowed-o-auth-flows-user-pool-client",
            f"--allowed-o-auth-scopes {granted}",
            f"--access-token-validity {pool.access_token_validity}",
            "--token-validity-units AccessToken=seconds",
        ]
    )


def requirement(source: AuthSpec | None) -> list[dict[str, list[str]]] | None:
    """An OpenAPI operation's ``security``: the pool's authorizer and the scopes of which
    the token must carry one (API Gateway's AuthorizationScopes); None when open."""
    if source is None:
        return None
    return [{names.authorizer_id(source.pool): list(source.scopes)}]


def security_schemes(pools: Iterable[str]) -> dict[str, Any]:
    """An API's authorizers: one ``COGNITO_USER_POOLS`` authorizer per pool its routes
    require, reading the ``Authorization`` header (as SAM writes them)."""
    return {
        names.authorizer_id(pool): {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authtype": "cognito_user_pools",
            "x-amazon-apigateway-authorizer": {
                "type": "cognito_user_pools",
                "providerARNs": [get_att(names.user_pool_id(pool), "Arn")],
            },
        }
        for pool in pools
    }


def describe(spec: UserPoolSpec) -> str:
    return described("user pool", spec.name)


def render_user_pool(spec: UserPoolSpec) -> Fragment:
    """A user pool, its domain and resource servers (`render_pool`)."""
    where = describe(spec)
    check_rendered(spec, where, RENDERED_FIELDS)
    for server in spec.resource_servers:
        check_rendered(server, where, RENDERED_FIELDS)
    resources, outputs, parameter = render_pool(spec)
    return Fragment(
        resources=resources,
        outputs=outputs,
        parameters={parameter.logical: parameter.rendered},
    )
