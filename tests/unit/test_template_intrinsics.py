"""Intrinsic functions, conditions and pseudo parameters, resolved as CloudFormation does."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from sluiceway.templates.errors import TemplateError
from sluiceway.templates.intrinsics import Pseudo, Resolver

PSEUDO = Pseudo(region="eu-west-1")
WHERE = "resource 'Thing' property Value"


def _resolver(
    template: dict[str, Any] | None = None, parameters: dict[str, Any] | None = None
) -> Resolver:
    template = template or {}
    template.setdefault("Resources", {"Queue": {"Type": "AWS::SQS::Queue"}})

    def ref(logical_id: str) -> Any:
        return f"ref:{logical_id}"

    def get_att(logical_id: str, attribute: str) -> Any:
        return f"att:{logical_id}:{attribute}"

    return Resolver(template, parameters or {}, PSEUDO, ref, get_att)


def _resolve(value: Any, template: dict[str, Any] | None = None, **parameters: Any) -> Any:
    return _resolver(template, parameters).resolve(value, WHERE)


def _error(value: Any, template: dict[str, Any] | None = None, **parameters: Any) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        _resolve(value, template, **parameters)
    assert caught.value.where == WHERE
    return caught.value


# -- plain data and Ref -----------------------------------------------------------------


def test_plain_data_is_returned_as_is_deeply() -> None:
    value = {"A": [1, "two", {"B": None, "C": True}], "Condition": {"StringEquals": {"k": "v"}}}
    assert _resolve(value) == value


def test_ref_a_parameter_a_pseudo_parameter_and_a_resource() -> None:
    value = {"P": {"Ref": "Stage"}, "R": {"Ref": "AWS::Region"}, "Q": {"Ref": "Queue"}}
    assert _resolve(value, Stage="dev") == {"P": "dev", "R": "eu-west-1", "Q": "ref:Queue"}


def test_ref_a_list_parameter_gives_a_copy() -> None:
    parameters = {"Ids": ["a", "b"]}
    resolver = _resolver(None, parameters)
    resolved = resolver.resolve({"Ref": "Ids"}, WHERE)
    resolved.append("c")
    assert parameters["Ids"] == ["a", "b"]


def test_every_pseudo_parameter() -> None:
    pseudo = Pseudo(region="us-east-2", account_id="123456789012", stack_name="shop")
    resolver = Resolver({}, {}, pseudo, lambda _: None, lambda _a, _b: None)
    names = ["AccountId", "Region", "StackName", "Partition", "URLSuffix", "NotificationARNs"]
    resolved = resolver.resolve([{"Ref": f"AWS::{name}"} for name in names], WHERE)
    assert resolved == ["123456789012", "us-east-2", "shop", "aws", "amazonaws.com", []]
    stack_id = resolver.resolve({"Ref": "AWS::StackId"}, WHERE)
    assert stack_id.startswith("arn:aws:cloudformation:us-east-2:123456789012:stack/shop/")
    assert (
        stack_id
        == Pseudo(region="us-east-2", account_id="123456789012", stack_name="shop").stack_id
    )
    assert stack_id != Pseudo(region="us-east-2", stack_name="other").stack_id


def test_no_value_removes_the_key_or_list_item() -> None:
    value = {"Keep": 1, "Drop": {"Ref": "AWS::NoValue"}, "List": ["a", {"Ref": "AWS::NoValue"}]}
    assert _resolve(value) == {"Keep": 1, "List": ["a"]}
    assert _resolve({"Ref": "AWS::NoValue"}) is None


def test_ref_an_unknown_name_lists_near_names() -> None:
    error = _error({"Ref": "Queu"}, Stage="dev")
    assert (
        error.problem == "Ref names 'Queu', which is not a parameter, pseudo parameter or resource"
    )
    assert error.fix == "declare it, or fix the name: did you mean 'Queue'?"


def test_ref_an_unknown_name_far_from_all() -> None:
    error = _error({"Ref": "Zzzzzz"}, Stage="dev")
    assert error.fix.startswith("declare it, or fix the name: the template declares: AWS::")


def test_ref_of_a_non_string() -> None:
    error = _error({"Ref": ["Queue"]})
    assert error.problem == "Ref expects the name of a parameter or a resource, got a list of 1"


def test_the_resource_callbacks_errors_pass_through() -> None:
    def ref(logical_id: str) -> Any:
        raise TemplateError(f"resource '{logical_id}'", "has no local value", "remove it")

    resolver = Resolver(
        {"Resources": {"Table": {"Type": "AWS::Foo::Bar"}}}, {}, PSEUDO, ref, lambda _a, _b: None
    )
    with pytest.raises(TemplateError, match="has no local value"):
        resolver.resolve({"Ref": "Table"}, WHERE)


# -- Fn::GetAtt ---------------------------------------------------------------------------


def test_get_att_list_and_string_forms() -> None:
    assert _resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == "att:Queue:Arn"
    assert _resolve({"Fn::GetAtt": "Queue.Arn"}) == "att:Queue:Arn"


def test_get_att_with_dots_keeps_the_rest_of_the_attribute() -> None:
    assert _resolve({"Fn::GetAtt": "Queue.Endpoint.Address"}) == "att:Queue:Endpoint.Address"
    assert _resolve({"Fn::GetAtt": ["Queue", "Endpoint.Port"]}) == "att:Queue:Endpoint.Port"


def test_get_att_attribute_from_a_ref() -> None:
    assert _resolve({"Fn::GetAtt": ["Queue", {"Ref": "Attr"}]}, Attr="QueueName") == (
        "att:Queue:QueueName"
    )


def test_get_att_of_a_parameter_or_unknown_name() -> None:
    error = _error({"Fn::GetAtt": "Stage.Arn"}, Stage="dev")
    assert error.problem == (
        "Fn::GetAtt names 'Stage', which is not a resource (it is a parameter: Ref it instead)"
    )
    assert _error({"Fn::GetAtt": ["Queues", "Arn"]}).fix == "did you mean 'Queue'?"


def test_get_att_wrong_shapes() -> None:
    for value in ("Queue", ["Queue"], ["Queue", "Arn", "x"], [1, "Arn"], ["Queue", ""]):
        error = _error({"Fn::GetAtt": value})
        assert error.problem.startswith('Fn::GetAtt expects [LogicalId, "Attribute"]')


# -- Fn::Sub ------------------------------------------------------------------------------


def test_sub_string_form() -> None:
    text = "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${Queue}/${Stage}"
    assert _resolve({"Fn::Sub": text}, Stage="dev") == (
        "arn:aws:sqs:eu-west-1:000000000000:ref:Queue/dev"
    )


def test_sub_resource_attributes() -> None:
    assert _resolve({"Fn::Sub": "${Queue.Arn} ${Queue.Endpoint.Address}"}) == (
        "att:Queue:Arn att:Queue:Endpoint.Address"
    )


def test_sub_literal_and_unrelated_dollars() -> None:
    assert _resolve({"Fn::Sub": "${!Literal} $5 ${!AWS::Region} $name"}) == (
        "${Literal} $5 ${AWS::Region} $name"
    )


def test_sub_variable_map_form_resolves_its_values() -> None:
    value = {"Fn::Sub": ["${Name}-${Port}-${Stage}", {"Name": {"Ref": "Queue"}, "Port": 8080}]}
    assert _resolve(value, Stage="dev") == "ref:Queue-8080-dev"


def test_sub_variable_map_wins_over_parameters() -> None:
    value = {"Fn::Sub": ["${Stage}", {"Stage": "from-map"}]}
    assert _resolve(value, Stage="dev") == "from-map"


def test_sub_an_unknown_variable() -> None:
    error = _error({"Fn::Sub": "${Stag}"}, Stage="dev")
    assert error.problem == (
        "Fn::Sub's ${Stag} names 'Stag', which is not a parameter, pseudo parameter or resource"
    )
    assert "did you mean 'Stage'?" in error.fix


def test_sub_a_list_parameter_is_not_a_string() -> None:
    error = _error({"Fn::Sub": "${Ids}"}, Ids=["a", "b"])
    assert error.problem == "Fn::Sub's ${Ids} is a list of 2, not a string"
    assert "Fn::Join" in error.fix


def test_sub_wrong_shapes() -> None:
    assert _error({"Fn::Sub": ["a"]}).problem.startswith("Fn::Sub expects")
    assert _error({"Fn::Sub": ["a", ["b"]]}).problem.startswith("Fn::Sub expects")
    assert _error({"Fn::Sub": 3}).problem.startswith("Fn::Sub expects")


# -- Fn::Join, Fn::Split, Fn::Select, Fn::Length -------------------------------------------


def test_join() -> None:
    value = {"Fn::Join": ["-", ["a", {"Ref": "Stage"}, 3, True]]}
    assert _resolve(value, Stage="dev") == "a-dev-3-true"
    assert _resolve({"Fn::Join": [",", {"Ref": "Ids"}]}, Ids=["x", "y"]) == "x,y"
    assert _resolve({"Fn::Join": ["", []]}) == ""


def test_join_drops_no_value_items() -> None:
    value = {"Fn::Join": [",", ["a", {"Ref": "AWS::NoValue"}, "b"]]}
    assert _resolve(value) == "a,b"


def test_join_wrong_shapes() -> None:
    error = _error({"Fn::Join": "a,b"})
    assert error.problem == "Fn::Join expects [delimiter, [value, ...]], got the str 'a,b'"
    assert error.fix == "write it as [delimiter, [value, ...]]"
    assert _error({"Fn::Join": [",", {"Ref": "Name"}]}, Name="a").problem == (
        "what Fn::Join joins is the str 'a', not a list"
    )
    assert _error({"Fn::Join": [",", [["nested"]]]}).problem == (
        "a value Fn::Join joins is a list of 1, not a string"
    )


def test_split() -> None:
    assert _resolve({"Fn::Split": [",", "a,b,,c"]}) == ["a", "b", "", "c"]
    assert _resolve({"Fn::Split": ["|", {"Ref": "Keys"}]}, Keys="x|y") == ["x", "y"]


def test_split_errors() -> None:
    assert _error({"Fn::Split": ["", "abc"]}).problem == "Fn::Split's delimiter is empty"
    assert _error({"Fn::Split": [",", ["a"]]}).problem == (
        "Fn::Split's string is a list of 1, not a string"
    )
    assert _error({"Fn::Split": ","}).problem.startswith("Fn::Split expects [delimiter, string]")


def test_select() -> None:
    assert _resolve({"Fn::Select": [1, ["a", "b", "c"]]}) == "b"
    assert _resolve({"Fn::Select": ["0", {"Fn::Split": [",", "x,y"]}]}) == "x"
    assert _resolve({"Fn::Select": [{"Ref": "Index"}, ["a", "b"]]}, Index="1") == "b"


def test_select_out_of_range() -> None:
    error = _error({"Fn::Select": [3, ["a", "b"]]})
    assert error.problem == "Fn::Select's index 3 is out of range for a list of 2"
    assert error.fix == "use an index from 0 to 1"
    assert _error({"Fn::Select": [-1, ["a"]]}).problem.startswith("Fn::Select's index -1")
    assert _error({"Fn::Select": [0, []]}).fix == "use an index into a non-empty list"


def test_select_wrong_shapes() -> None:
    assert _error({"Fn::Select": [0, "abc"]}).problem == (
        "what Fn::Select selects from is the str 'abc', not a list"
    )
    assert _error({"Fn::Select": [0]}).problem.startswith(
        "Fn::Select expects [index, [value, ...]]"
    )
    assert _error({"Fn::Select": ["one", ["a"]]}).problem == (
        "Fn::Select's index is the str 'one', not an integer"
    )
    assert _error({"Fn::Select": [True, ["a"]]}).problem.endswith("not an integer")


def test_length() -> None:
    assert _resolve({"Fn::Length": ["a", "b", "c"]}) == 3
    assert _resolve({"Fn::Length": {"Ref": "Ids"}}, Ids=["a"]) == 1
    assert _error({"Fn::Length": "abc"}).problem == (
        "what Fn::Length measures is the str 'abc', not a list"
    )


# -- Fn::Base64, Fn::ToJsonString, Fn::GetAZs, Fn::Cidr -----------------------------------


def test_base64() -> None:
    encoded = _resolve({"Fn::Base64": {"Fn::Sub": "#!/bin/bash\necho ${AWS::Region}"}})
    assert base64.b64decode(encoded).decode() == "#!/bin/bash\necho eu-west-1"
    assert _error({"Fn::Base64": ["a"]}).problem == (
        "the value Fn::Base64 encodes is a list of 1, not a string"
    )


def test_to_json_string_is_compact_json() -> None:
    value = {"Fn::ToJsonString": {"key1": "value1", "key2": {"Ref": "Stage"}, "n": [1, "é"]}}
    assert _resolve(value, Stage="resolvedValue") == (
        '{"key1":"value1","key2":"resolvedValue","n":[1,"é"]}'
    )
    assert _resolve({"Fn::ToJsonString": ["a", {"Ref": "AWS::NoValue"}]}) == '["a"]'
    assert _error({"Fn::ToJsonString": "text"}).problem == (
        "Fn::ToJsonString expects a mapping or a list, got the str 'text'"
    )


def test_get_azs() -> None:
    azs = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert _resolve({"Fn::GetAZs": ""}) == azs
    assert _resolve({"Fn::GetAZs": {"Ref": "AWS::Region"}}) == azs
    assert _resolve({"Fn::GetAZs": "us-east-1"})[0] == "us-east-1a"
    assert _resolve({"Fn::Select": [0, {"Fn::GetAZs": ""}]}) == "eu-west-1a"


def test_cidr_as_the_documentation_shows_it() -> None:
    assert _resolve({"Fn::Cidr": ["192.168.0.0/24", "6", "5"]}) == [
        "192.168.0.0/27",
        "192.168.0.32/27",
        "192.168.0.64/27",
        "192.168.0.96/27",
        "192.168.0.128/27",
        "192.168.0.160/27",
    ]


def test_cidr_from_a_resource_attribute_and_ipv6() -> None:
    template = {"Resources": {"Vpc": {"Type": "AWS::EC2::VPC"}}}
    resolver = Resolver(template, {}, PSEUDO, lambda _: None, lambda _a, _b: "10.0.0.0/16")
    value = {"Fn::Select": [1, {"Fn::Cidr": [{"Fn::GetAtt": ["Vpc", "CidrBlock"]}, 2, 8]}]}
    assert resolver.resolve(value, WHERE) == "10.0.1.0/24"
    assert _resolve({"Fn::Cidr": ["2001:db8::/56", 2, 64]}) == [
        "2001:db8::/64",
        "2001:db8:0:1::/64",
    ]


def test_cidr_errors() -> None:
    assert _error({"Fn::Cidr": ["10.0.0.0/33", 1, 8]}).problem == (
        "Fn::Cidr's ipBlock '10.0.0.0/33' is not a CIDR"
    )
    assert _error({"Fn::Cidr": ["10.0.0.0/16", 0, 8]}).problem == (
        "Fn::Cidr's count 0 is not 1 to 256"
    )
    assert _error({"Fn::Cidr": ["10.0.0.0/16", 257, 8]}).problem.startswith("Fn::Cidr's count")
    error = _error({"Fn::Cidr": ["10.0.0.0/24", 1, 9]})
    assert error.problem == "Fn::Cidr's cidrBits 9 does not fit in 10.0.0.0/24"
    assert error.fix == "use cidrBits from 0 to 8 (host bits)"
    error = _error({"Fn::Cidr": ["10.0.0.0/24", 3, 7]})
    assert error.problem == "Fn::Cidr asks 10.0.0.0/24 for 3 /25 blocks"
    assert error.fix.startswith("ask for at most 2")
    assert _error({"Fn::Cidr": ["10.0.0.0/24", 3]}).problem.startswith(
        "Fn::Cidr expects [ipBlock, count, cidrBits]"
    )


# -- Fn::FindInMap --------------------------------------------------------------------------

MAPPINGS = {
    "Mappings": {
        "RegionMap": {
            "eu-west-1": {"Ami": "ami-eu", "Zones": ["a", "b"]},
            "us-east-1": {"Ami": "ami-us"},
        },
        "Sizes": {1: {"true": "small"}},
    }
}


def test_find_in_map() -> None:
    value = {"Fn::FindInMap": ["RegionMap", {"Ref": "AWS::Region"}, "Ami"]}
    assert _resolve(value, dict(MAPPINGS)) == "ami-eu"
    assert _resolve({"Fn::FindInMap": ["RegionMap", "eu-west-1", "Zones"]}, dict(MAPPINGS)) == [
        "a",
        "b",
    ]


def test_find_in_map_keys_yaml_made_into_numbers() -> None:
    assert _resolve({"Fn::FindInMap": ["Sizes", "1", "true"]}, dict(MAPPINGS)) == "small"


def test_find_in_map_missing_keys_name_the_map_and_keys() -> None:
    error = _error({"Fn::FindInMap": ["RegionMap", "eu-west-2", "Ami"]}, dict(MAPPINGS))
    assert error.problem == "Fn::FindInMap finds no 'eu-west-2' in the map 'RegionMap'"
    assert error.fix.startswith("add it to Mappings 'RegionMap' (did you mean 'eu-west-1'")
    assert error.fix.endswith("or give Fn::FindInMap a DefaultValue (AWS::LanguageExtensions)")
    error = _error({"Fn::FindInMap": ["RegionMap", "us-east-1", "Zones"]}, dict(MAPPINGS))
    assert error.problem == "Fn::FindInMap finds no 'us-east-1' -> 'Zones' in the map 'RegionMap'"


def test_find_in_map_unknown_map() -> None:
    error = _error({"Fn::FindInMap": ["RegionMaps", "a", "b"]}, dict(MAPPINGS))
    assert error.problem == "Fn::FindInMap names the undeclared map 'RegionMaps'"
    assert error.fix == "declare it, or fix the name: did you mean 'RegionMap'?"


def test_find_in_map_default_value() -> None:
    value = {"Fn::FindInMap": ["RegionMap", "ap-south-1", "Ami", {"DefaultValue": {"Ref": "D"}}]}
    assert _resolve(value, dict(MAPPINGS), D="ami-default") == "ami-default"
    found = {"Fn::FindInMap": ["RegionMap", "us-east-1", "Ami", {"DefaultValue": "x"}]}
    assert _resolve(found, dict(MAPPINGS)) == "ami-us"


def test_find_in_map_wrong_shapes() -> None:
    assert _error({"Fn::FindInMap": ["RegionMap", "a"]}, dict(MAPPINGS)).problem.startswith(
        "Fn::FindInMap expects [MapName, TopLevelKey, SecondLevelKey]"
    )
    bad_default = {"Fn::FindInMap": ["RegionMap", "a", "b", {"Default": "x"}]}
    assert _error(bad_default, dict(MAPPINGS)).problem.startswith("Fn::FindInMap expects")


# -- conditions and Fn::If --------------------------------------------------------------------


def _conditions(**conditions: Any) -> dict[str, Any]:
    return {
        "Conditions": conditions,
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue"},
            "ProdOnly": {"Type": "AWS::SQS::Queue", "Condition": "IsProd"},
        },
    }


IS_PROD = {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}


def test_equals_and_or_not_and_condition_references() -> None:
    template = _conditions(
        IsProd=IS_PROD,
        IsDev={"Fn::Not": [{"Condition": "IsProd"}]},
        Both={"Fn::And": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "a"]}]},
        Either={"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "IsDev"}]},
    )
    resolver = _resolver(template, {"Stage": "prod"})
    assert resolver.condition("IsProd", WHERE) is True
    assert resolver.condition("IsDev", WHERE) is False
    assert resolver.condition("Both", WHERE) is True
    assert resolver.condition("Either", WHERE) is True


def test_equals_compares_as_cloudformation_strings() -> None:
    template = _conditions(
        One={"Fn::Equals": [{"Ref": "Count"}, 1]},
        Yes={"Fn::Equals": [True, "true"]},
        Lists={"Fn::Equals": [{"Ref": "Ids"}, ["a", "b"]]},
        Empty={"Fn::Equals": [{"Fn::Join": ["", {"Ref": "Ids"}]}, ""]},
    )
    resolver = _resolver(template, {"Count": "1", "Ids": ["a", "b"]})
    assert resolver.condition("One", WHERE) is True
    assert resolver.condition("Yes", WHERE) is True
    assert resolver.condition("Lists", WHERE) is True
    assert resolver.condition("Empty", WHERE) is False


def test_conditions_are_evaluated_lazily_and_once() -> None:
    calls: list[str] = []

    class Counting(dict[str, Any]):
        def __contains__(self, key: object) -> bool:
            calls.append(str(key))
            return super().__contains__(key)

    template = _conditions(
        IsProd={"Fn::Equals": [{"Fn::FindInMap": ["Env", {"Ref": "Stage"}, "Name"]}, "prod"]},
        Broken={"Fn::Equals": ["only one"]},
    )
    template["Mappings"] = {"Env": Counting(prod={"Name": "prod"})}
    resolver = _resolver(template, {"Stage": "prod"})
    assert calls == []
    assert resolver.condition("IsProd", WHERE) is True
    assert resolver.condition("IsProd", WHERE) is True
    assert calls == ["prod"]


def test_a_condition_cycle_is_refused() -> None:
    template = _conditions(
        A={"Fn::Not": [{"Condition": "B"}]}, B={"Fn::And": [{"Condition": "A"}, IS_PROD]}
    )
    with pytest.raises(TemplateError) as caught:
        _resolver(template, {"Stage": "prod"}).condition("A", WHERE)
    assert caught.value.where == "condition 'A'"
    assert caught.value.problem == "depends on itself (A -> B -> A)"


def test_a_condition_referring_to_itself_directly() -> None:
    template = _conditions(Loop={"Condition": "Loop"})
    with pytest.raises(TemplateError, match=r"depends on itself \(Loop -> Loop\)"):
        _resolver(template).condition("Loop", WHERE)


def test_an_undeclared_condition() -> None:
    with pytest.raises(TemplateError) as caught:
        _resolver(_conditions(IsProd=IS_PROD)).condition("IsProdd", "output 'Url'")
    assert caught.value.where == "output 'Url'"
    assert caught.value.problem == "names the condition 'IsProdd', which is undeclared"
    assert caught.value.fix == "declare it, or fix the name: did you mean 'IsProd'?"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("yes", "a condition expects one of Fn::Equals"),
        ({"Fn::Equals": ["a"]}, "Fn::Equals expects [value, value], got a list of 1"),
        ({"Fn::And": [IS_PROD]}, "Fn::And expects a list of 2 to 10 conditions, got a list of 1"),
        ({"Fn::Or": [IS_PROD] * 11}, "Fn::Or expects a list of 2 to 10 conditions"),
        ({"Fn::Not": [IS_PROD, IS_PROD]}, "Fn::Not expects [condition], got a list of 2"),
        ({"Fn::If": ["A", 1, 2]}, "a condition expects one of Fn::Equals"),
        ({"Condition": ["A"]}, "Condition expects the name of a condition, got a list of 1"),
    ],
)
def test_malformed_conditions(body: Any, problem: str) -> None:
    with pytest.raises(TemplateError) as caught:
        _resolver(_conditions(Bad=body), {"Stage": "dev"}).condition("Bad", WHERE)
    assert caught.value.where == "condition 'Bad'"
    assert caught.value.problem.startswith(problem)


def test_a_condition_cannot_name_a_resource() -> None:
    template = _conditions(Bad={"Fn::Equals": [{"Ref": "Queue"}, "x"]})
    with pytest.raises(TemplateError) as caught:
        _resolver(template).condition("Bad", WHERE)
    assert caught.value.problem == "Ref names the resource 'Queue' inside a condition"


def test_if_chooses_a_branch_and_resolves_only_it() -> None:
    template = _conditions(IsProd=IS_PROD)
    value = {"Fn::If": ["IsProd", {"Ref": "Stage"}, {"Ref": "Undeclared"}]}
    assert _resolve(value, template, Stage="prod") == "prod"
    with pytest.raises(TemplateError, match="Undeclared"):
        _resolve(value, _conditions(IsProd=IS_PROD), Stage="dev")


def test_if_with_no_value_drops_the_key_and_the_list_item() -> None:
    # aws-samples/serverless-patterns firehose-transformation-sam-python.
    template = _conditions(
        HasBucketName={"Fn::Not": [{"Fn::Equals": [{"Ref": "DestinationS3BucketName"}, ""]}]}
    )
    properties = {
        "BucketName": {
            "Fn::If": ["HasBucketName", {"Ref": "DestinationS3BucketName"}, {"Ref": "AWS::NoValue"}]
        },
        "Tags": [{"Fn::If": ["HasBucketName", "named", {"Ref": "AWS::NoValue"}]}],
    }
    assert _resolve(properties, template, DestinationS3BucketName="") == {"Tags": []}
    assert _resolve(
        properties, _conditions(**template["Conditions"]), DestinationS3BucketName="b"
    ) == {
        "BucketName": "b",
        "Tags": ["named"],
    }


def test_if_accepts_a_condition_key_for_its_condition() -> None:
    value = {"Fn::If": [{"Condition": "IsProd"}, "p", "d"]}
    assert _resolve(value, _conditions(IsProd=IS_PROD), Stage="dev") == "d"


def test_if_wrong_shapes() -> None:
    template = _conditions(IsProd=IS_PROD)
    assert _error({"Fn::If": ["IsProd", "a"]}, template).problem.startswith(
        "Fn::If expects [condition name, value if true, value if false]"
    )
    assert _error({"Fn::If": [1, "a", "b"]}, _conditions(IsProd=IS_PROD)).problem.startswith(
        "Fn::If expects"
    )
    assert _error({"Fn::If": ["Nope", "a", "b"]}, _conditions(IsProd=IS_PROD)).problem == (
        "names the condition 'Nope', which is undeclared"
    )


def test_resource_included() -> None:
    resolver = _resolver(_conditions(IsProd=IS_PROD), {"Stage": "dev"})
    assert resolver.resource_included("Queue") is True
    assert resolver.resource_included("ProdOnly") is False
    assert _resolver(_conditions(IsProd=IS_PROD), {"Stage": "prod"}).resource_included("ProdOnly")


def test_resource_included_errors() -> None:
    template = _conditions(IsProd=IS_PROD)
    template["Resources"]["Odd"] = {"Type": "AWS::SQS::Queue", "Condition": ["IsProd"]}
    template["Resources"]["Lost"] = {"Type": "AWS::SQS::Queue", "Condition": "IsQa"}
    resolver = _resolver(template, {"Stage": "dev"})
    with pytest.raises(TemplateError) as caught:
        resolver.resource_included("Qeue")
    assert caught.value.where == "resource 'Qeue'"
    assert caught.value.problem == "is not declared under Resources"
    with pytest.raises(TemplateError, match="Condition expects the name of a condition"):
        resolver.resource_included("Odd")
    with pytest.raises(TemplateError) as caught:
        resolver.resource_included("Lost")
    assert caught.value.where == "resource 'Lost'"
    assert caught.value.problem == "names the condition 'IsQa', which is undeclared"


def test_naming_a_resource_that_is_not_created() -> None:
    error = _error({"Fn::GetAtt": "ProdOnly.Arn"}, _conditions(IsProd=IS_PROD), Stage="dev")
    assert error.problem == (
        "Fn::GetAtt names the resource 'ProdOnly', which is not created because its condition "
        "'IsProd' is false"
    )
    assert error.fix == "guard this value with Fn::If on 'IsProd', or drop the resource's Condition"
    guarded = {"Fn::If": ["IsProd", {"Ref": "ProdOnly"}, {"Ref": "AWS::NoValue"}]}
    assert _resolve({"Q": guarded}, _conditions(IsProd=IS_PROD), Stage="dev") == {}


# -- functions that cannot run, or do not exist ---------------------------------------------


def test_import_value_is_refused_with_the_parameter_fix() -> None:
    error = _error({"Fn::ImportValue": {"Fn::Sub": "${Network}-VpcId"}})
    assert error.problem == "uses Fn::ImportValue, but no other stack exists locally to export it"
    assert "replace it with a parameter" in error.fix


def test_an_unknown_function_is_named() -> None:
    error = _error({"Fn::Joint": [",", ["a"]]})
    assert error.problem == "uses Fn::Joint, which sluiceway does not resolve"
    assert error.fix.startswith("did you mean Fn::Join? use one of Fn::Base64, Fn::Cidr")
    assert error.fix.endswith("Fn::Sub, Fn::ToJsonString or Ref")
    assert _error({"Fn::Transform": {"Name": "AWS::Include"}}).problem == (
        "uses Fn::Transform, which sluiceway does not resolve"
    )


def test_a_condition_function_outside_conditions() -> None:
    error = _error({"Fn::Equals": ["a", "a"]})
    assert error.problem == "uses the condition function Fn::Equals outside Conditions"


def test_sections_that_are_not_mappings_are_refused() -> None:
    for section in ("Resources", "Conditions", "Mappings"):
        with pytest.raises(TemplateError) as caught:
            Resolver({section: ["x"]}, {}, PSEUDO, lambda _: None, lambda _a, _b: None)
        assert caught.value.where == section
        assert caught.value.problem == "is a list of 1, not a mapping"


def test_a_mapping_with_other_keys_beside_fn_is_plain_data() -> None:
    value = {"Fn::Join": "not an intrinsic", "Other": 1}
    assert _resolve(value) == value


# -- realistic templates ------------------------------------------------------------------------


def test_a_private_api_pattern_resolves() -> None:
    # Excerpt of aws-samples/serverless-patterns apigw-private-cdn-private-ca-sam, in the
    # long form the loader produces.
    template: dict[str, Any] = {
        "Mappings": {
            "Constants": {
                "CustomDomain": {"Value": "apigw.example.com"},
                "DomainName": {"Value": "example.com"},
            }
        },
        "Resources": {
            "MyPrivateCA": {"Type": "AWS::ACMPCA::CertificateAuthority"},
            "ApiVPCEndpoint": {"Type": "AWS::EC2::VPCEndpoint"},
            "MyAPIGWCertificate": {"Type": "AWS::CertificateManager::Certificate"},
        },
    }
    resource_arn = {"Fn::Sub": "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:*/*"}
    properties = {
        "DomainName": {"Fn::FindInMap": ["Constants", "CustomDomain", "Value"]},
        "CertificateArn": {"Ref": "MyAPIGWCertificate"},
        "Policy": {
            "Fn::ToJsonString": {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "execute-api:Invoke",
                        "Resource": resource_arn,
                        "Condition": {
                            "StringNotEquals": {"aws:SourceVpce": {"Ref": "ApiVPCEndpoint"}}
                        },
                    },
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "execute-api:Invoke",
                        "Resource": resource_arn,
                    },
                ]
            }
        },
        "ServiceName": {"Fn::Sub": "com.amazonaws.${AWS::Region}.execute-api"},
        "SubnetIds": {"Ref": "VpcEndpointSubnetIdsParameter"},
    }
    resolver = Resolver(
        template,
        {"VpcEndpointSubnetIdsParameter": ["subnet-1", "subnet-2"]},
        PSEUDO,
        lambda logical_id: f"local-{logical_id}",
        lambda logical_id, attribute: f"{logical_id}.{attribute}",
    )
    resolved = resolver.resolve(properties, "resource 'ApiGatewayCustomDomain'")
    assert resolved["DomainName"] == "apigw.example.com"
    assert resolved["CertificateArn"] == "local-MyAPIGWCertificate"
    assert resolved["ServiceName"] == "com.amazonaws.eu-west-1.execute-api"
    assert resolved["SubnetIds"] == ["subnet-1", "subnet-2"]
    policy = json.loads(resolved["Policy"])
    assert policy["Statement"][0]["Resource"] == "arn:aws:execute-api:eu-west-1:000000000000:*/*"
    assert policy["Statement"][0]["Condition"] == {
        "StringNotEquals": {"aws:SourceVpce": "local-ApiVPCEndpoint"}
    }
