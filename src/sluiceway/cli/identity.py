"""`sluiceway clients`, `token` and `keys`: OAuth2 app clients, access tokens (client
credentials) and the keys that sign them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from sluiceway.cli._common import _admin, _data_dir, _table, _time, data_dir_option, json_option


@click.group()
def clients() -> None:
    """OAuth2 app clients of the app's user pools (client credentials)."""


@clients.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True, help="A scope it may get.")
@click.option("--pool", help="The user pool (when the app has several).")
@data_dir_option
@json_option
def clients_create(
    name: str, scopes: tuple[str, ...], pool: str | None, data_dir: Path | None, as_json: bool
) -> None:
    """Make an app client; its secret is printed now and never again."""
    with _admin(data_dir) as admin:
        made = admin.identity.create_client(name, scopes, pool)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(made), indent=2))
        return
    click.echo(f"client id:     {made.client_id}")
    click.echo(f"client secret: {made.client_secret}  (shown once: keep it now)")
    click.echo(f"scopes:        {' '.join(made.scopes)}")


@clients.command("list")
@data_dir_option
@json_option
def clients_list(data_dir: Path | None, as_json: bool) -> None:
    """Every app client (never a secret)."""
    with _admin(data_dir) as admin:
        views = admin.identity.clients()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(v) for v in views], indent=2))
        return
    rows = [
        [
            v.client_id,
            v.name,
            v.pool,
            " ".join(v.scopes),
            _time(v.created_at),
            "declared" if v.declared else "cli",
        ]
        for v in views
    ]
    _table(rows, ["CLIENT ID", "NAME", "POOL", "SCOPES", "CREATED", "MADE BY"])
    if any(v.declared for v in views):
        click.echo("a declared client's secret: sluiceway clients secret CLIENT_ID")


@clients.command("secret")
@click.argument("client_id")
@data_dir_option
def clients_secret(client_id: str, data_dir: Path | None) -> None:
    """Print the secret of an app client the app declares (a template's UserPoolClient)."""
    with _admin(data_dir) as admin:
        click.echo(admin.identity.client_secret(client_id))


@clients.command("delete")
@click.argument("client_id")
@data_dir_option
def clients_delete(client_id: str, data_dir: Path | None) -> None:
    """Delete an app client: it gets no more tokens (those it has expire on their own)."""
    with _admin(data_dir) as admin:
        admin.identity.delete_client(client_id)
    click.echo(f"deleted {client_id}")


@click.command()
@click.option("--client-id", required=True)
@click.option("--client-secret", required=True)
@click.option("--scope", "scopes", multiple=True, help="Ask for these scopes (default: all).")
@data_dir_option
def token(
    client_id: str, client_secret: str, scopes: tuple[str, ...], data_dir: Path | None
) -> None:
    """Get an access token (client credentials): from the running runtime's token endpoint,
    or, with none running, from the data directory's keys. Prints the token response."""
    from sluiceway.cognito.errors import OAuthError
    from sluiceway.local.admin import running_runtime

    runtime = running_runtime(_data_dir(data_dir))
    if runtime is not None:
        click.echo(_token_from(runtime["url"], client_id, client_secret, scopes))
        return
    with _admin(data_dir) as admin:
        try:
            issued = admin.identity.issue(client_id, client_secret, scopes or None)
        except OAuthError as error:
            raise click.ClickException(f"{error.error}: {error.description}") from None
    click.echo(json.dumps(issued))


def _token_from(url: str, client_id: str, client_secret: str, scopes: tuple[str, ...]) -> str:
    """POST a client-credentials request to the runtime at `url`; its answer's text."""
    import base64
    import ssl
    import urllib.error
    import urllib.parse
    import urllib.request

    form = {"grant_type": "client_credentials"}
    if scopes:
        form["scope"] = " ".join(scopes)
    credentials = ":".join(urllib.parse.quote(part, safe="") for part in (client_id, client_secret))
    request = urllib.request.Request(
        f"{url}/oauth2/token",
        data=urllib.parse.urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
        },
    )
    # The runtime's own, possibly self-signed, certificate: this is the same machine.
    context = ssl._create_unverified_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            return str(answer.read().decode())
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        error.close()
        raise click.ClickException(f"{error.code}: {detail}") from None


@click.group()
def keys() -> None:
    """The signing keys of access tokens (RS256)."""


@keys.command("list")
@data_dir_option
@json_option
def keys_list(data_dir: Path | None, as_json: bool) -> None:
    """The keys tokens are verified with; the newest signs."""
    with _admin(data_dir) as admin:
        document = admin.identity.keys.jwks()
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    for n, key in enumerate(document["keys"]):
        click.echo(f"{key['kid']}{'  (signing)' if n == 0 else ''}")


@keys.command("rotate")
@data_dir_option
def keys_rotate(data_dir: Path | None) -> None:
    """Sign new tokens with a new key; tokens signed before stay valid until they expire."""
    with _admin(data_dir) as admin:
        key = admin.identity.keys.rotate()
    click.echo(f"signing with {key.kid}")


@keys.command("retire")
@click.argument("kid")
@data_dir_option
def keys_retire(kid: str, data_dir: Path | None) -> None:
    """Stop accepting tokens signed with KID (not the signing key: rotate first)."""
    with _admin(data_dir) as admin:
        try:
            admin.identity.keys.retire(kid)
        except (KeyError, ValueError) as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"retired {kid}")
