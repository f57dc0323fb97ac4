"""Handler code that names AWS's own endpoints reaches the runtime instead.

Lambda code often passes an explicit ``endpoint_url`` (``boto3.client("iot-data",
endpoint_url=os.environ["IOT_DATA_ENDPOINT"])``, the account's IoT data endpoint from a template
parameter). `AWS_ENDPOINT_URL`, which an execution environment sets, does not override an
explicit one, so an environment also rewrites any endpoint on AWS's domains to the runtime's:
the code stays as it is on Lambda, and nothing it does leaves the machine.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

AWS_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def is_aws_endpoint(url: str) -> bool:
    host = (urlsplit(url if "//" in url else f"https://{url}").hostname or "").lower()
    return host.endswith(AWS_DOMAINS)


def redirect_aws_endpoints(local: str) -> None:
    """From now on, clients made with an endpoint on AWS's domains go to `local`."""
    import botocore.session

    session_class: Any = botocore.session.Session
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
