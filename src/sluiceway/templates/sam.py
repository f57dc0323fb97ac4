"""The SAM transform, by AWS's own translator (`aws-sam-translator`), offline.

The translator wants deployable code locations (``s3://...``); as ``sam build`` and ``sam local``
do, each local ``CodeUri`` (and a layer's ``ContentUri``, an API's ``DefinitionUri``) is swapped
for a placeholder before the transform and kept aside, so the functions it yields still point
at their folders. ``Fn::Transform`` ``AWS::Include`` of a local file is replaced by the file's
content, as ``sam package`` uploads it and CloudFormation includes it (a pseudo parameter
written ``${AWS::Region}`` in the snippet's text takes its value). The managed-policy names
a function lists resolve from the translator's bundled map; nothing calls AWS.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sluiceway.templates.document import read_definition, read_snippet
from sluiceway.templates.errors import TemplateError

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
PLACEHOLDER_BUCKET = "sluiceway-local-code"
_PSEUDO = re.compile(r"\$\{(AWS::[A-Za-z]+)\}")
_LOCAL_URIS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
    "AWS::Lambda::Function": "Code",
    "AWS::Lambda::LayerVersion": "Content",
}


@dataclass
class Transformed:
    """The template as plain CloudFormation, and each resource's local folder or file."""

    template: dict[str, Any]
    local_paths: dict[str, Path] = field(default_factory=dict)


def transforms(template: Mapping[str, Any]) -> tuple[str, ...]:
    raw = template.get("Transform", ())
    return (raw,) if isinstance(raw, str) else tuple(t for t in raw if isinstance(t, str))


def transform(
    template: Mapping[str, Any], folder: Path, parameters: Mapping[str, Any], region: str
) -> Transformed:
    """`template` as CloudFormation: SAM's resources expanded when it names the transform."""
    pseudo = {k: str(v) for k, v in parameters.items() if k.startswith("AWS::")}
    document = _include(copy.deepcopy(dict(template)), folder, pseudo)
    local = _set_aside_local_paths(document, folder)
    names = transforms(document)
    unknown = [t for t in names if t not in (SAM_TRANSFORM, "AWS::LanguageExtensions")]
    if unknown:
        raise TemplateError(
            "template Transform",
            f"{', '.join(unknown)} cannot run locally (a macro in another account)",
            "remove it, or expand the template first (aws cloudformation package/deploy)",
        )
    if SAM_TRANSFORM in names:
        document = _sam(document, parameters, region)
    return Transformed(document, local)


def _include(value: Any, folder: Path, pseudo: Mapping[str, str]) -> Any:
    """`value` with each ``AWS::Include`` of a local file replaced by the file's content."""
    if isinstance(value, list):
        return [_include(item, folder, pseudo) for item in value]
    if not isinstance(value, dict):
        return value
    call = value.get("Fn::Transform")
    if len(value) == 1 and isinstance(call, dict) and call.get("Name") == "AWS::Include":
        parameters = call.get("Parameters")
        location = parameters.get("Location") if isinstance(parameters, dict) else None
        if not isinstance(location, str) or location.startswith("s3://"):
            raise TemplateError(
                "Fn::Transform AWS::Include",
                f"Location {location!r} is not a local file",
                "point Location at the snippet's file, relative to the template",
            )
        return _pseudo(read_snippet(folder / location), pseudo)
    return {key: _include(item, folder, pseudo) for key, item in value.items()}


def _pseudo(value: Any, pseudo: Mapping[str, str]) -> Any:
    """A snippet with ``${AWS::Region}`` (and the other pseudo parameters) in its text filled."""
    if isinstance(value, list):
        return [_pseudo(item, pseudo) for item in value]
    if isinstance(value, dict):
        return {key: _pseudo(item, pseudo) for key, item in value.items()}
    if isinstance(value, str):
        return _PSEUDO.sub(lambda m: pseudo.get(m.group(1), m.group(0)), value)
    return value


def _sam(document: dict[str, Any], parameters: Mapping[str, Any], region: str) -> dict[str, Any]:
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform as sam_transform

    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    try:
        transformed: dict[str, Any] = sam_transform(
            document, dict(parameters), _NoManagedPolicies()
        )
        return transformed
    except InvalidDocumentException as error:
        problems = "; ".join(str(cause) for cause in error.causes)
        raise TemplateError(
            "template (SAM transform)", problems, "fix what the SAM translator names"
        ) from None


class _NoManagedPolicies:
    """The translator's fallback for managed-policy names beyond its bundled map: none."""

    def load(self) -> dict[str, str]:
        return {}


def _set_aside_local_paths(document: dict[str, Any], folder: Path) -> dict[str, Path]:
    local: dict[str, Path] = {}
    globals_ = document.get("Globals", {}).get("Function", {})
    inherited = globals_.get("CodeUri") if isinstance(globals_, dict) else None
    for logical, resource in document.get("Resources", {}).items():
        if not isinstance(resource, dict):
            continue
        key = _LOCAL_URIS.get(str(resource.get("Type")))
        properties = resource.setdefault("Properties", {})
        if key is None or not isinstance(properties, dict):
            continue
        value = properties.get(key, inherited if key == "CodeUri" else None)
        if key in ("Code", "Content"):
            if isinstance(value, str) and not value.startswith("s3://"):
                local[logical] = (folder / value).resolve()
                properties[key] = {"S3Bucket": PLACEHOLDER_BUCKET, "S3Key": logical}
            continue
        if (
            key == "DefinitionUri"
            and isinstance(value, str)
            and not value.startswith("s3://")
            and resource.get("Type") != "AWS::Serverless::StateMachine"
        ):
            definition = (folder / value).resolve()
            properties["DefinitionBody"] = read_definition(logical, definition)
            del properties[key]
            local[logical] = definition
        elif isinstance(value, str) and not value.startswith("s3://"):
            local[logical] = (folder / value).resolve()
            properties[key] = f"s3://{PLACEHOLDER_BUCKET}/{logical}"
        elif (
            value is None
            and key == "CodeUri"
            and "InlineCode" not in properties
            and properties.get("PackageType") != "Image"
        ):
            local[logical] = folder.resolve()  # sam's default: the template's folder
            properties[key] = f"s3://{PLACEHOLDER_BUCKET}/{logical}"
    return local
