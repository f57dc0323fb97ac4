"""What one render function reads (`Target`: the graph, where the code sits, the stage) and
returns (`Fragment`: resources, outputs, and API paths for routes); `template` merges them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

from sluiceway.app.graph import AppGraph, Spec
from sluiceway.cognito.spec import UserPoolSpec
from sluiceway.core.cfn import Resources
from sluiceway.iot.spec import IotSpec
from sluiceway.pipes.spec import PipeSpec
from sluiceway.wafv2.rules import WebACL

# What `render_spec` renders: the graph's specs, and what the graph keeps apart from them
# (pipes, user pools, the IoT declaration, the firewall).
Renderable: TypeAlias = Spec | PipeSpec | UserPoolSpec | IotSpec | WebACL

DEFAULT_STAGE = "prod"


@dataclass(frozen=True)
class Code:
    """Where the functions' code sits (relative to the template) and how the shim finds the
    app in it (``module:attr``)."""

    app: str
    uri: str = "src"


@dataclass(frozen=True)
class Target:
    """What every render function may read besides its spec."""

    graph: AppGraph
    code: Code
    stage: str = DEFAULT_STAGE


@dataclass
class Fragment:
    resources: Resources = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    # OpenAPI paths: path -> lower-case method -> operation
    paths: dict[str, dict[str, Any]] = field(default_factory=dict)
    # OpenAPI schemas (API Gateway models) the operations refer to, by name
    schemas: dict[str, Any] = field(default_factory=dict)
    # logical IDs the SAM transform will create for this fragment
    derived: tuple[str, ...] = ()
    # template parameters this fragment adds (logical ID -> declaration)
    parameters: dict[str, Any] = field(default_factory=dict)
