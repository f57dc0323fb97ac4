"""While an app is under test, this process's AWS SDKs call it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# Not a secret: the key every app under test signs with (see `_point_sdks_at`).
TEST_SECRET = b"sluiceway.testing: well known, for tests only"

_AWS_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
)


def point_sdks_at(data_dir: Path, region: str, url: str) -> Any:
    """While the app runs, this process's SDKs call it (as its admin), not AWS with whatever
    the shell holds: the app's modules and handlers on threads make their clients here, some
    as they are imported. Returns the undo."""
    from sluiceway.core.wire.credentials import SECRET_FILE, Keyring
    from sluiceway.local.aws_redirect import redirect_aws_endpoints, stop_redirecting

    keys = data_dir / "keys"
    if not (keys / SECRET_FILE).exists():
        # The same admin credentials for every app under test: a client a module made when
        # an earlier test imported it still signs as this app's admin.
        keys.mkdir(parents=True, exist_ok=True)
        (keys / SECRET_FILE).write_bytes(TEST_SECRET)
    admin = Keyring.load(keys).admin
    saved = {name: os.environ.get(name) for name in _AWS_VARIABLES}
    for name in _AWS_VARIABLES:
        os.environ.pop(name, None)
    os.environ["AWS_ENDPOINT_URL"] = url
    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = region
    os.environ.update(admin.variables())
    redirect_aws_endpoints(url)

    def undo() -> None:
        stop_redirecting()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    return undo
