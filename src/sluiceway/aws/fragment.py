"""What the template's assembly reads (`Target`: the graph, where the code sits, the stage)
and what it renders (`Renderable`); each service's render reads the graph-free `Context`
and returns a `Fragment` (``sluiceway.core.render.fragment``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from sluiceway.app.graph import AppGraph, Spec
from sluiceway.cognito.spec import UserPoolSpec
from sluiceway.core.render.fragment import DEFAULT_STAGE, Code, Context, Fragment
from sluiceway.iot.spec import IotSpec
from sluiceway.pipes.spec import PipeSpec
from sluiceway.wafv2.rules import WebACL

__all__ = ["DEFAULT_STAGE", "Code", "Fragment", "Renderable", "Target"]

# What `render_spec` renders: the graph's specs, and what the graph keeps apart from them
# (pipes, user pools, the IoT declaration, the firewall).
Renderable: TypeAlias = Spec | PipeSpec | UserPoolSpec | IotSpec | WebACL


@dataclass(frozen=True)
class Target:
    """The app being rendered, where its code sits, and the stage."""

    graph: AppGraph
    code: Code
    stage: str = DEFAULT_STAGE

    @property
    def context(self) -> Context:
        """What the services' renders read of it."""
        return Context(self.graph.name, self.code, self.stage)
