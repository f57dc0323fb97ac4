"""The errors the AWS target raises on purpose."""

from __future__ import annotations

from sluiceway.core.errors import RenderError, SluicewayError

__all__ = ["DeployError", "RenderError", "ShimError"]


class DeployError(SluicewayError):
    """A `sam`/`aws` command failed, or its arguments are invalid."""

    code = "DeployError"


class ShimError(SluicewayError):
    """The Lambda entry point is misconfigured (an environment variable the template sets is
    missing or names something the app does not declare)."""

    code = "ShimError"
