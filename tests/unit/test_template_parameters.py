"""A template's parameters valued and checked as CloudFormation does, and --parameter-overrides
parsed as sam parses them."""

from __future__ import annotations

from typing import Any

import pytest

from sluiceway.templates.errors import TemplateError
from sluiceway.templates.parameters import parameter_values, parse_overrides


def _template(**parameters: dict[str, Any]) -> dict[str, Any]:
    return {"Parameters": parameters, "Resources": {}}


def _error(template: dict[str, Any], overrides: dict[str, str] | None = None) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        parameter_values(template, overrides or {})
    return caught.value


# -- values and types -------------------------------------------------------------------


def test_a_template_without_parameters_has_none() -> None:
    assert parameter_values({"Resources": {}}, {}) == {}
    assert parameter_values({"Parameters": None}, {}) == {}


def test_the_override_wins_over_the_default() -> None:
    template = _template(Stage={"Type": "String", "Default": "dev"})
    assert parameter_values(template, {}) == {"Stage": "dev"}
    assert parameter_values(template, {"Stage": "prod"}) == {"Stage": "prod"}


def test_a_number_stays_a_string_as_ref_passes_it() -> None:
    template = _template(
        Memory={"Type": "Number", "Default": 128},
        Ratio={"Type": "Number", "Default": "0.5"},
        Big={"Type": "Number", "Default": "1e3"},
    )
    assert parameter_values(template, {}) == {"Memory": "128", "Ratio": "0.5", "Big": "1e3"}
    assert parameter_values(template, {"Memory": "-256"})["Memory"] == "-256"


def test_a_number_that_is_not_numeric_is_refused() -> None:
    error = _error(_template(Memory={"Type": "Number"}), {"Memory": "lots"})
    assert error.where == "parameter 'Memory'"
    assert error.problem == "the override 'lots' is not a number"
    assert "--parameter-overrides Memory=value" in error.fix


def test_lists_are_split_at_commas_and_space_trimmed() -> None:
    template = _template(
        Names={"Type": "CommaDelimitedList", "Default": "a, b ,c"},
        Ports={"Type": "List<Number>", "Default": "80,443"},
        Subnets={"Type": "List<AWS::EC2::Subnet::Id>", "Default": "subnet-1,subnet-2"},
        Empty={"Type": "CommaDelimitedList", "Default": ""},
    )
    assert parameter_values(template, {}) == {
        "Names": ["a", "b", "c"],
        "Ports": ["80", "443"],
        "Subnets": ["subnet-1", "subnet-2"],
        "Empty": [""],
    }


def test_a_list_default_written_as_a_yaml_list_is_accepted() -> None:
    template = _template(Names={"Type": "CommaDelimitedList", "Default": ["a", "b"]})
    assert parameter_values(template, {}) == {"Names": ["a", "b"]}


def test_each_member_of_a_number_list_is_checked() -> None:
    error = _error(_template(Ports={"Type": "List<Number>"}), {"Ports": "80,http"})
    assert error.problem == "the override 'http' is not a number"


def test_aws_specific_types_are_strings() -> None:
    template = _template(
        Vpc={"Type": "AWS::EC2::VPC::Id", "Default": "vpc-1"},
        Key={"Type": "AWS::EC2::KeyPair::KeyName", "Default": "mine"},
        Name={"Type": "AWS::SSM::Parameter::Name", "Default": "/app/name"},
    )
    assert parameter_values(template, {}) == {"Vpc": "vpc-1", "Key": "mine", "Name": "/app/name"}


def test_yaml_scalars_in_defaults_become_cloudformation_strings() -> None:
    template = _template(
        Flag={"Type": "String", "Default": True, "AllowedValues": [True, False]},
        Count={"Type": "String", "Default": 3},
    )
    assert parameter_values(template, {}) == {"Flag": "true", "Count": "3"}


def test_a_default_that_is_a_mapping_is_refused() -> None:
    error = _error(_template(Bad={"Type": "String", "Default": {"a": 1}}))
    assert error.where == "parameter 'Bad'"
    assert error.problem.startswith("has a Default that is not a string")


def test_an_ssm_parameter_value_needs_an_override() -> None:
    template = _template(
        Ami={
            "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
            "Default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        }
    )
    error = _error(template)
    assert error.where == "parameter 'Ami'"
    assert "SSM Parameter Store" in error.problem
    assert error.fix == "pass --parameter-overrides Ami=value, which then is used as-is"
    assert parameter_values(template, {"Ami": "ami-123"}) == {"Ami": "ami-123"}


def test_an_ssm_list_value_override_is_a_list() -> None:
    template = _template(Ids={"Type": "AWS::SSM::Parameter::Value<List<String>>"})
    assert parameter_values(template, {"Ids": "a,b"}) == {"Ids": ["a", "b"]}


def test_an_ssm_override_is_not_checked_against_constraints() -> None:
    template = _template(
        Ami={"Type": "AWS::SSM::Parameter::Value<String>", "AllowedPattern": "ami-[0-9]+"}
    )
    assert parameter_values(template, {"Ami": "anything"}) == {"Ami": "anything"}


def test_an_unknown_type_is_refused() -> None:
    error = _error(_template(Stage={"Type": "Strin", "Default": "dev"}))
    assert error.where == "parameter 'Stage'"
    assert error.problem == "has the type 'Strin', which CloudFormation does not know"
    assert "String, Number" in error.fix


def test_a_parameter_without_type_is_refused() -> None:
    error = _error(_template(Stage={"Default": "dev"}))
    assert error.where == "parameter 'Stage'"
    assert error.problem == "has no Type"


def test_parameters_that_are_not_a_mapping_are_refused() -> None:
    error = _error({"Parameters": ["Stage"]})
    assert error.where == "Parameters"


# -- missing and undeclared -------------------------------------------------------------


def test_a_parameter_without_override_or_default_names_the_fix() -> None:
    error = _error(_template(Stage={"Type": "String"}))
    assert error.where == "parameter 'Stage'"
    assert error.problem == "has no value: no override and no Default"
    assert error.fix == (
        "pass --parameter-overrides Stage=value (or set parameter_overrides in samconfig.toml)"
    )
    assert str(error).startswith("parameter 'Stage': has no value")


def test_an_empty_default_is_a_value() -> None:
    assert parameter_values(_template(Name={"Type": "String", "Default": ""}), {}) == {"Name": ""}


def test_an_override_the_template_does_not_declare_is_refused() -> None:
    template = _template(Stage={"Type": "String"}, Region={"Type": "String"})
    error = _error(template, {"Stag": "dev"})
    assert error.where == "parameter 'Stag'"
    assert "declares no such parameter" in error.problem
    assert error.fix == (
        "did you mean 'Stage'? remove it, or name one of the declared parameters: Stage, Region"
    )


def test_an_override_for_a_template_without_parameters() -> None:
    error = _error({"Resources": {}}, {"Stage": "dev"})
    assert error.fix == "remove it: the template declares no parameters"


# -- constraints ------------------------------------------------------------------------


def test_allowed_values() -> None:
    template = _template(
        Stage={"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]}
    )
    assert parameter_values(template, {"Stage": "prod"}) == {"Stage": "prod"}
    error = _error(template, {"Stage": "test"})
    assert error.problem == "the override 'test' is not one of the AllowedValues 'dev', 'prod'"
    assert error.fix == (
        "pass --parameter-overrides Stage=value with a value that is one of the AllowedValues "
        "'dev', 'prod'"
    )


def test_a_bad_default_says_to_change_it() -> None:
    template = _template(Stage={"Type": "String", "Default": "qa", "AllowedValues": ["dev"]})
    error = _error(template)
    assert error.problem == "the Default 'qa' is not one of the AllowedValues 'dev'"
    assert error.fix.startswith("change its Default, or pass --parameter-overrides Stage=value")


def test_allowed_values_apply_to_each_list_member() -> None:
    template = _template(Envs={"Type": "CommaDelimitedList", "AllowedValues": ["a", "b"]})
    assert parameter_values(template, {"Envs": "a,b"}) == {"Envs": ["a", "b"]}
    assert _error(template, {"Envs": "a,c"}).problem.startswith("the override 'c' is not")


def test_allowed_values_compare_numbers_as_strings() -> None:
    template = _template(Memory={"Type": "Number", "Default": 128, "AllowedValues": [128, 256]})
    assert parameter_values(template, {"Memory": "256"}) == {"Memory": "256"}


def test_allowed_values_that_are_not_a_list_are_refused() -> None:
    error = _error(_template(Stage={"Type": "String", "Default": "a", "AllowedValues": "a"}))
    assert error.problem == "has AllowedValues that is not a list"


def test_allowed_pattern_must_match_the_whole_value() -> None:
    template = _template(Name={"Type": "String", "AllowedPattern": "[a-z]+"})
    assert parameter_values(template, {"Name": "abc"}) == {"Name": "abc"}
    error = _error(template, {"Name": "abc1"})
    assert error.problem == "the override 'abc1' is not a full match of the AllowedPattern '[a-z]+'"


def test_a_broken_allowed_pattern_is_reported() -> None:
    error = _error(_template(Name={"Type": "String", "Default": "a", "AllowedPattern": "[a-"}))
    assert error.where == "parameter 'Name'"
    assert "is not a regular expression" in error.problem


def test_constraint_description_replaces_the_generic_message() -> None:
    template = _template(
        Bucket={
            "Type": "String",
            "AllowedPattern": "[a-z0-9.-]{3,63}",
            "ConstraintDescription": "must be a valid S3 bucket name",
        }
    )
    error = _error(template, {"Bucket": "My_Bucket"})
    assert error.problem == "the override 'My_Bucket' is rejected: must be a valid S3 bucket name"
    assert "a full match of the AllowedPattern" in error.fix


def test_min_and_max_length() -> None:
    template = _template(Name={"Type": "String", "MinLength": 2, "MaxLength": "4"})
    assert parameter_values(template, {"Name": "abcd"}) == {"Name": "abcd"}
    assert _error(template, {"Name": "a"}).problem == (
        "the override 'a' is not at least 2 characters long (MinLength)"
    )
    assert _error(template, {"Name": "abcde"}).problem == (
        "the override 'abcde' is not at most 4 characters long (MaxLength)"
    )


def test_min_and_max_value() -> None:
    template = _template(Memory={"Type": "Number", "MinValue": 128, "MaxValue": 10240})
    assert parameter_values(template, {"Memory": "512"}) == {"Memory": "512"}
    assert _error(template, {"Memory": "64"}).problem == (
        "the override '64' is not at least 128 (MinValue)"
    )
    assert _error(template, {"Memory": "20000"}).problem == (
        "the override '20000' is not at most 10240 (MaxValue)"
    )


def test_min_value_on_a_string_is_ignored_as_cloudformation_ignores_it() -> None:
    template = _template(Name={"Type": "String", "Default": "a", "MinValue": 5})
    assert parameter_values(template, {}) == {"Name": "a"}


def test_a_bound_that_is_not_a_number_is_reported() -> None:
    error = _error(_template(Name={"Type": "String", "Default": "a", "MaxLength": "ten"}))
    assert error.problem == "has MaxLength 'ten', which is not a number"


def test_a_realistic_parameters_section() -> None:
    # The shape of aws-samples/serverless-patterns apigw-lambda-opensearch-serverless-nextgen.
    template = _template(
        EnableApiAccessLogs={
            "Type": "String",
            "Default": "false",
            "Description": "CloudWatch Logs role must already be configured.",
            "AllowedValues": ["true", "false"],
        },
        VpcIdParameter={"Type": "AWS::EC2::VPC::Id"},
        VpcEndpointSubnetIdsParameter={"Type": "List<AWS::EC2::Subnet::Id>"},
    )
    overrides = parse_overrides(
        ["VpcIdParameter=vpc-0abc VpcEndpointSubnetIdsParameter=subnet-1,subnet-2"]
    )
    assert parameter_values(template, overrides) == {
        "EnableApiAccessLogs": "false",
        "VpcIdParameter": "vpc-0abc",
        "VpcEndpointSubnetIdsParameter": ["subnet-1", "subnet-2"],
    }


# -- parse_overrides --------------------------------------------------------------------


def test_overrides_key_value_items() -> None:
    assert parse_overrides(["Stage=prod", "Memory=256"]) == {"Stage": "prod", "Memory": "256"}


def test_overrides_cloudformation_form() -> None:
    items = ["ParameterKey=Stage,ParameterValue=prod", "ParameterKey=Ids,ParameterValue=a,b"]
    assert parse_overrides(items) == {"Stage": "prod", "Ids": "a,b"}


def test_overrides_several_pairs_in_one_string() -> None:
    text = "ParameterKey=KeyPairName,ParameterValue=MyKey ParameterKey=Type,ParameterValue=t1.micro"
    assert parse_overrides([text]) == {"KeyPairName": "MyKey", "Type": "t1.micro"}
    assert parse_overrides(["  A=1   B=2  "]) == {"A": "1", "B": "2"}


def test_overrides_quoted_values_keep_their_spaces() -> None:
    text = """A=1 B="x y" C='p q' "D=r s" E=\\"quoted\\" F=a\\ b"""
    assert parse_overrides([text]) == {
        "A": "1",
        "B": "x y",
        "C": "p q",
        "D": "r s",
        "E": '"quoted"',
        "F": "a b",
    }


def test_overrides_values_may_hold_equals_signs_and_backslashes() -> None:
    assert parse_overrides(["Token=a=b==", r"Pattern=^\d+$"]) == {
        "Token": "a=b==",
        "Pattern": r"^\d+$",
    }


def test_overrides_empty_values_and_items() -> None:
    assert parse_overrides(["Name=", 'Other=""', ""]) == {"Name": "", "Other": ""}
    assert parse_overrides([]) == {}


def test_overrides_a_later_pair_wins() -> None:
    assert parse_overrides(["A=1 A=2", "A=3"]) == {"A": "3"}


def test_overrides_an_unquoted_space_is_refused_with_the_quoting_fix() -> None:
    with pytest.raises(TemplateError) as caught:
        parse_overrides(["Message=hello world"])
    assert caught.value.where == "--parameter-overrides"
    assert caught.value.problem == "'world' is not Key=Value"
    assert 'Key="a b"' in caught.value.fix


def test_overrides_an_unclosed_quote_is_refused() -> None:
    with pytest.raises(TemplateError) as caught:
        parse_overrides(['A="x y'])
    assert caught.value.problem == "'A=\"x y' has an unclosed \" quote"


def test_overrides_a_name_that_is_not_alphanumeric_is_refused() -> None:
    with pytest.raises(TemplateError) as caught:
        parse_overrides(["My-Stage=prod"])
    assert "parameter names are alphanumeric" in caught.value.problem
    with pytest.raises(TemplateError):
        parse_overrides(["=prod"])


def test_overrides_parameter_key_without_value_is_refused() -> None:
    with pytest.raises(TemplateError) as caught:
        parse_overrides(["ParameterKey=Stage"])
    assert caught.value.problem == "'ParameterKey=Stage' has ParameterKey without a ParameterValue"
