"""Finding and reading a template: YAML with CloudFormation's short tags, or JSON.

``!Ref X`` becomes ``{"Ref": "X"}``, ``!GetAtt A.B`` becomes ``{"Fn::GetAtt": ["A", "B"]}``,
``!Sub``, ``!Join`` and the rest their ``Fn::`` long forms, so the rest of the import reads
plain data, as CloudFormation itself does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import yaml

from sluiceway.templates.errors import TemplateError

# What `sam` looks for in a folder, in its order.
NAMES = ("template.yaml", "template.yml", "template.json")
SUFFIXES = (".yaml", ".yml", ".json", ".template")


def is_template(target: str) -> bool:
    """Whether `target` (what `sluiceway run` was given) names a template or a folder of one."""
    path = Path(target)
    if path.suffix.lower() in SUFFIXES:
        return True
    return path.is_dir() and any((path / name).is_file() for name in NAMES)


def find(target: str) -> Path:
    path = Path(target)
    if path.is_dir():
        for name in NAMES:
            if (path / name).is_file():
                return (path / name).resolve()
        raise TemplateError(f"folder {path}", "holds no template", "name it " + ", ".join(NAMES))
    if not path.is_file():
        raise TemplateError(f"template {path}", "does not exist", "check the path")
    return path.resolve()


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader with CloudFormation's tags. A date stays text, as CloudFormation reads it
    (``Version: 2012-10-17`` is a string there, not a timestamp)."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, Any]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def _tag(loader: _Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else "Condition" if suffix == "Condition" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            resource, _, attribute = value.partition(".")
            value = [resource, attribute]
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def read(path: Path) -> dict[str, Any]:
    """The template at `path` as data; a damaged file names the line."""
    document = _load(path, "template")
    if not isinstance(document.get("Resources"), dict):
        raise TemplateError(
            f"template {path}",
            "has no Resources section",
            "a CloudFormation template is a mapping with a Resources mapping",
        )
    return document


def read_definition(logical: str, path: Path) -> dict[str, Any]:
    """An API's OpenAPI definition file (DefinitionUri), read as the template is."""
    if not path.is_file():
        raise TemplateError(
            f"resource '{logical}' property DefinitionUri",
            f"{path} does not exist",
            "point DefinitionUri at the OpenAPI file, relative to the template",
        )
    return _load(path, f"resource '{logical}' DefinitionUri")


def read_snippet(path: Path) -> dict[str, Any]:
    """A file ``Fn::Transform`` ``AWS::Include`` names, read as the template is."""
    if not path.is_file():
        raise TemplateError(
            "Fn::Transform AWS::Include",
            f"{path} does not exist",
            "point Location at the snippet's file, relative to the template",
        )
    return _load(path, "AWS::Include snippet")


def _load(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TemplateError(
            f"{what} {path}", f"cannot be read: {error}", "check the file"
        ) from None
    try:
        if path.suffix.lower() == ".json":
            document = json.loads(text)
        else:
            document = yaml.load(text, Loader=_Loader)  # a SafeLoader
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        raise TemplateError(
            f"{what} {path}", f"is not valid YAML or JSON: {error}", "fix the syntax there"
        ) from None
    if not isinstance(document, dict):
        raise TemplateError(f"{what} {path}", "is not a mapping", "check the file")
    return document
