"""The errors the AWS target raises on purpose."""

from __future__ import annotations

from sluiceway.core.errors import SluicewayError


class RenderError(SluicewayError):
    """An app cannot be rendered into a template (two names that collide, an app that is not
    importable in Lambda, an output directory that is not ours)."""

    code = "RenderError"


class DeployError(SluicewayError):
    """A `sam`/`aws` command failed, or its arguments are invalid."""

    code = "DeployError"


class ShimError(SluicewayError):
    """The Lambda entry point is misconfigured (an environment variable the template sets is
    missing or names something the app does not declare)."""

    code = "ShimError"
