"""CloudFormation intrinsic functions, in their long (JSON) form, so the template is plain data
that any YAML or JSON reader can load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

Json: TypeAlias = Any
Resources: TypeAlias = dict[str, dict[str, Any]]

POLICY_VERSION = "2012-10-17"


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


@dataclass(frozen=True)
class DeployParameter:
    """A template parameter the renderer adds for something that differs per deployment (a
    user pool's domain prefix): `name` is what ``sluiceway deploy aws --set`` takes,
    `logical` the template's parameter, `rendered` its declaration there."""

    name: str
    logical: str
    rendered: dict[str, Any]
