"""The AWS target: the app as a SAM template with least-privilege IAM, and the Lambda shim
that runs the same handlers there on boto3.

    from sluiceway.aws import render
    from sluiceway.app.loader import load_app

    render(load_app("orders"), Path("build/orders"))   # template.yaml + src/

Only this package imports boto3, and only when a client is first needed.
"""

from sluiceway.apigateway.render import route_grants
from sluiceway.aws.adapters import Boto3Backend, ResourceNames
from sluiceway.aws.commands import Plan, deploy_aws, destroy_aws, render_aws
from sluiceway.aws.errors import DeployError, RenderError, ShimError
from sluiceway.aws.fragment import Code
from sluiceway.aws.package import AppLocation, locate, render
from sluiceway.aws.template import render_spec, template_for

__all__ = [
    # rendering
    "AppLocation",
    "Code",
    "locate",
    "render",
    "render_spec",
    "route_grants",
    "template_for",
    # commands behind the CLI
    "Plan",
    "deploy_aws",
    "destroy_aws",
    "render_aws",
    # running in Lambda (the entry point is sluiceway.aws.shim.handler)
    "Boto3Backend",
    "ResourceNames",
    # errors
    "DeployError",
    "RenderError",
    "ShimError",
]
