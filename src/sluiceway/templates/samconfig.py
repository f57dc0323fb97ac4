"""The parameter overrides a project keeps in its samconfig file, read as sam reads them.

sam looks beside the template for ``samconfig.toml``, then ``samconfig.yaml``, then
``samconfig.yml``, and uses the first it finds. In it, ``parameter_overrides`` is taken from
the command's section (``[<env>.deploy.parameters]``) and, when that has none, from
``[<env>.global.parameters]``: the command's value replaces the global one as a whole.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sluiceway.templates.errors import TemplateError
from sluiceway.templates.parameters import parse_overrides

__all__ = ["samconfig_parameters"]

_FILE_NAMES = ("samconfig.toml", "samconfig.yaml", "samconfig.yml")
_SECTIONS = ("deploy", "global")
_KEY = "parameter_overrides"
_CFN_FORM = re.compile(r"ParameterKey=([^,]*),ParameterValue=(.*)", re.DOTALL)


def samconfig_parameters(folder: Path, config_env: str = "default") -> dict[str, str]:
    """The ``parameter_overrides`` of ``config_env`` in the samconfig file in ``folder``:
    ``{}`` when there is no file, or it sets none. Raises `TemplateError` naming the file
    when it cannot be read or its overrides are malformed."""
    path = next((folder / name for name in _FILE_NAMES if (folder / name).is_file()), None)
    if path is None:
        return {}
    document = _load(path)
    for section in _SECTIONS:
        parameters = _table(document, (config_env, section, "parameters"), path)
        if parameters is not None and _KEY in parameters:
            where = f"{path} [{config_env}.{section}.parameters] {_KEY}"
            return _overrides(parameters[_KEY], where)
    return {}


def _load(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise _damaged(path, f"cannot be read ({error})") from None
    if path.suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise _damaged(path, f"is not valid TOML ({error})") from None
    return _load_yaml(path, text)


def _load_yaml(path: Path, text: str) -> Mapping[str, Any]:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is installed wherever templates are read
        raise TemplateError(
            str(path), "needs PyYAML to be read", "pip install PyYAML, or use samconfig.toml"
        ) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise _damaged(path, f"is not valid YAML ({error})") from None
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise _damaged(path, "does not hold a mapping of environments")
    return document


def _damaged(path: Path, problem: str) -> TemplateError:
    return TemplateError(
        str(path),
        problem,
        "correct the file (sam's layout: [default.deploy.parameters] parameter_overrides = "
        '"Key=Value ..."), or remove it',
    )


def _table(
    document: Mapping[str, Any], keys: tuple[str, ...], path: Path
) -> Mapping[str, Any] | None:
    """The table at ``keys`` (None when any level is absent); a level that is not a table
    makes the file damaged."""
    table = document
    for depth, key in enumerate(keys):
        inner = table.get(key)
        if inner is None:
            return None
        if not isinstance(inner, Mapping):
            dotted = ".".join(keys[: depth + 1])
            raise _damaged(path, f"has {dotted} that is not a table")
        table = inner
    return table


def _overrides(value: Any, where: str) -> dict[str, str]:
    """A string of space-separated pairs, or a list with one ``Key=Value`` in each item."""
    if isinstance(value, str):
        try:
            return parse_overrides([value])
        except TemplateError as error:
            raise TemplateError(where, error.problem, error.fix) from None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return dict(_list_item(item, where) for item in value)
    raise TemplateError(
        where,
        f"is {type(value).__name__}, not a string or a list of strings",
        'write it as "Key1=Value1 Key2=Value2" or as ["Key1=Value1", "Key2=Value2"]',
    )


def _list_item(item: str, where: str) -> tuple[str, str]:
    """One list item is one pair: everything after the first ``=`` is the value (spaces and
    all), without the quotes that may wrap it; or ``ParameterKey=K,ParameterValue=V``."""
    match = _CFN_FORM.fullmatch(item)
    key, separator, value = (match[1], "=", match[2]) if match else item.partition("=")
    key = key.strip()
    if not separator or not key.isascii() or not key.isalnum():
        raise TemplateError(
            where,
            f"has the item {item!r}, which is not Key=Value",
            'write each item as "Key=Value" (Key alphanumeric)',
        )
    if len(value) >= 2 and value[0] == value[-1] and value[0] in ("'", '"'):
        value = value[1:-1]
    return key, value
