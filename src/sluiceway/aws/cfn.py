"""CloudFormation intrinsic functions, in their long (JSON) form, so the template is plain data
that any YAML or JSON reader can load."""

from __future__ import annotations

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
