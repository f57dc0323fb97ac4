"""The parameter overrides a project keeps in samconfig.toml (or .yaml/.yml), read as sam does."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluiceway.templates.errors import TemplateError
from sluiceway.templates.samconfig import samconfig_parameters


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(folder: Path, env: str = "default") -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        samconfig_parameters(folder, env)
    return caught.value


def test_no_file_no_overrides(tmp_path: Path) -> None:
    assert samconfig_parameters(tmp_path) == {}


def test_a_string_of_pairs_from_the_deploy_section(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "samconfig.toml",
        'version = 0.1\n[default.deploy.parameters]\nstack_name = "app"\n'
        'parameter_overrides = "Stage=dev Message=\\"hello world\\" Ids=a,b"\n',
    )
    assert samconfig_parameters(tmp_path) == {
        "Stage": "dev",
        "Message": "hello world",
        "Ids": "a,b",
    }


def test_a_list_of_pairs_one_per_item(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "samconfig.toml",
        "[default.deploy.parameters]\n"
        "parameter_overrides = ['Stage=dev', 'Message=hello world', 'Quoted=\"x y\"', "
        "'ParameterKey=Memory,ParameterValue=256']\n",
    )
    assert samconfig_parameters(tmp_path) == {
        "Stage": "dev",
        "Message": "hello world",
        "Quoted": "x y",
        "Memory": "256",
    }


def test_the_deploy_section_wins_over_global_as_a_whole(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "samconfig.toml",
        '[default.global.parameters]\nparameter_overrides = "Stage=global Other=1"\n'
        '[default.deploy.parameters]\nparameter_overrides = "Stage=deploy"\n',
    )
    assert samconfig_parameters(tmp_path) == {"Stage": "deploy"}


def test_global_applies_when_deploy_sets_none(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "samconfig.toml",
        '[default.global.parameters]\nparameter_overrides = "Stage=global"\n'
        '[default.deploy.parameters]\nstack_name = "app"\n',
    )
    assert samconfig_parameters(tmp_path) == {"Stage": "global"}


def test_the_config_env_chooses_the_environment(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "samconfig.toml",
        '[default.deploy.parameters]\nparameter_overrides = "Stage=dev"\n'
        '[prod.deploy.parameters]\nparameter_overrides = "Stage=prod"\n',
    )
    assert samconfig_parameters(tmp_path, "prod") == {"Stage": "prod"}
    assert samconfig_parameters(tmp_path, "staging") == {}


def test_a_file_without_overrides(tmp_path: Path) -> None:
    _write(tmp_path, "samconfig.toml", "version = 0.1\n[default.build.parameters]\ncached = true\n")
    assert samconfig_parameters(tmp_path) == {}
    _write(tmp_path, "samconfig.toml", "")
    assert samconfig_parameters(tmp_path) == {}


def test_samconfig_yaml(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "samconfig.yaml",
        "version: 0.1\ndefault:\n  deploy:\n    parameters:\n"
        "      parameter_overrides:\n        - Stage=dev\n        - Message=hi there\n",
    )
    assert samconfig_parameters(tmp_path) == {"Stage": "dev", "Message": "hi there"}


def test_samconfig_yml_and_an_empty_yaml(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "samconfig.yml",
        "default:\n  global:\n    parameters:\n      parameter_overrides: Stage=yml\n",
    )
    assert samconfig_parameters(tmp_path) == {"Stage": "yml"}
    _write(tmp_path, "samconfig.yml", "")
    assert samconfig_parameters(tmp_path) == {}


def test_toml_is_read_first_as_sam_reads_it(tmp_path: Path) -> None:
    _write(
        tmp_path, "samconfig.toml", '[default.deploy.parameters]\nparameter_overrides = "A=toml"\n'
    )
    _write(
        tmp_path, "samconfig.yaml", "default: {deploy: {parameters: {parameter_overrides: A=yaml}}}"
    )
    assert samconfig_parameters(tmp_path) == {"A": "toml"}


def test_damaged_toml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "samconfig.toml", "[default.deploy.parameters\n")
    error = _error(tmp_path)
    assert error.where == str(path)
    assert error.problem.startswith("is not valid TOML")
    assert "[default.deploy.parameters]" in error.fix


def test_damaged_yaml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "samconfig.yaml", "default: [unclosed\n")
    error = _error(tmp_path)
    assert error.where == str(path)
    assert error.problem.startswith("is not valid YAML")


def test_yaml_that_is_not_a_mapping_is_damaged(tmp_path: Path) -> None:
    _write(tmp_path, "samconfig.yaml", "- a\n- b\n")
    assert _error(tmp_path).problem == "does not hold a mapping of environments"


def test_a_file_that_is_not_utf8_is_damaged(tmp_path: Path) -> None:
    (tmp_path / "samconfig.toml").write_bytes(b"\xff\xfe[default]")
    assert _error(tmp_path).problem.startswith("cannot be read")


def test_a_level_that_is_not_a_table_is_damaged(tmp_path: Path) -> None:
    _write(tmp_path, "samconfig.toml", '[default]\ndeploy = "oops"\n')
    assert _error(tmp_path).problem == "has default.deploy that is not a table"


def test_overrides_of_the_wrong_type(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "samconfig.toml", "[default.deploy.parameters]\nparameter_overrides = 3\n"
    )
    error = _error(tmp_path)
    assert error.where == f"{path} [default.deploy.parameters] parameter_overrides"
    assert error.problem == "is int, not a string or a list of strings"


def test_a_malformed_string_names_the_file_and_section(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "samconfig.toml",
        '[default.global.parameters]\nparameter_overrides = "Stage=dev oops"\n',
    )
    error = _error(tmp_path)
    assert error.where == f"{path} [default.global.parameters] parameter_overrides"
    assert error.problem == "'oops' is not Key=Value"


def test_a_malformed_list_item(tmp_path: Path) -> None:
    _write(
        tmp_path, "samconfig.toml", "[default.deploy.parameters]\nparameter_overrides = ['oops']\n"
    )
    error = _error(tmp_path)
    assert error.problem == "has the item 'oops', which is not Key=Value"
