"""Handler code that names AWS's own endpoints reaches the runtime instead.

Lambda code often passes an explicit ``endpoint_url`` (``boto3.client("iot-data",
endpoint_url=os.environ["IOT_DATA_ENDPOINT"])``, the account's IoT data endpoint from a template
parameter). `AWS_ENDPOINT_URL`, which an execution environment sets, does not override an
explicit one, so an environment also rewrites any endpoint on AWS's domains to the runtime's:
the code stays as it is on Lambda, and nothing it does leaves the machine.

An environment arms the rewrite without importing botocore (`redirect_once_imported`): a
handler that never uses an SDK pays nothing for it at its cold start (importing botocore
takes a few hundred milliseconds).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

AWS_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def is_aws_endpoint(url: str) -> bool:
    host = (urlsplit(url if "//" in url else f"https://{url}").hostname or "").lower()
    return host.endswith(AWS_DOMAINS)


def redirect_aws_endpoints(local: str, session: ModuleType | None = None) -> None:
    """From now on, clients made with an endpoint on AWS's domains go to `local`
    (`session`: botocore's session module, when it is being imported)."""
    if session is None:
        import botocore.session

        session = botocore.session
    session_class: Any = session.Session
    current = session_class.create_client
    if getattr(current, "sluiceway_redirect", None) == local:
        return
    # botocore's own (decorated: it sets up the call's context), never a previous redirect.
    original = getattr(current, "sluiceway_original", current)

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint = kwargs.get("endpoint_url")
        if isinstance(endpoint, str) and is_aws_endpoint(endpoint):
            kwargs["endpoint_url"] = local
        return original(self, *args, **kwargs)

    create_client.sluiceway_redirect = local  # type: ignore[attr-defined]
    create_client.sluiceway_original = original  # type: ignore[attr-defined]
    session_class.create_client = create_client


def stop_redirecting() -> None:
    """Undo `redirect_aws_endpoints`: clients are made with the endpoints they name."""
    import botocore.session

    session_class: Any = botocore.session.Session
    original = getattr(session_class.create_client, "sluiceway_original", None)
    if original is not None:
        session_class.create_client = original


def redirect_once_imported(local: str) -> None:
    """`redirect_aws_endpoints(local)` as soon as botocore's session module is imported (at
    once if it is already)."""
    if "botocore.session" in sys.modules:
        redirect_aws_endpoints(local)
        return
    sys.meta_path.insert(
        0, _AfterImport("botocore.session", lambda module: redirect_aws_endpoints(local, module))
    )


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs `then` on module `name` right after it is first executed (before its package
    has it as an attribute), then leaves the import system as it found it."""

    def __init__(self, name: str, then: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.then = then

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = next(
            (
                found
                for finder in sys.meta_path
                if (found := finder.find_spec(fullname, path, target)) is not None
            ),
            None,
        )
        if spec is None or spec.loader is None:
            return spec
        loader, then = spec.loader, self.then
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            then(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec
