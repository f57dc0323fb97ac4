"""DynamoDB on AWS: a table as an ``AWS::DynamoDB::Table`` (on demand, encrypted, with
point-in-time recovery), with its secondary indexes, stream and time to live when declared,
its name as an output."""

from __future__ import annotations

from typing import Any

from sluiceway.core.cfn import ref
from sluiceway.core.render import names
from sluiceway.core.render.checks import RenderedFields, check_rendered, described
from sluiceway.core.render.fragment import Fragment
from sluiceway.dynamodb import indexes
from sluiceway.dynamodb.spec import IndexSpec, KeySpec, TableSpec

RENDERED_FIELDS: RenderedFields = {
    TableSpec: frozenset(
        {
            "name",
            "partition_key",
            "sort_key",
            "stream",
            "ttl_attribute",
            "global_indexes",
            "local_indexes",
        }
    ),
    KeySpec: frozenset({"name", "type"}),
    IndexSpec: frozenset({"name", "partition_key", "sort_key", "projection", "non_key_attributes"}),
}


def describe(spec: TableSpec) -> str:
    return described("table", spec.name)


def render_table(spec: TableSpec) -> Fragment:
    check_rendered(spec, describe(spec), RENDERED_FIELDS)
    for key in (spec.partition_key, spec.sort_key):
        if key is not None:
            check_rendered(key, describe(spec), RENDERED_FIELDS)
    for index in spec.indexes:
        check_rendered(index, describe(spec), RENDERED_FIELDS)
    logical = names.resource_id(spec.name)
    properties: dict[str, Any] = {
        "TableName": spec.name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": indexes.attribute_definitions(spec),
        "KeySchema": indexes.key_schema(spec.partition_key, spec.sort_key),
        "SSESpecification": {"SSEEnabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    }
    for option, declared in (
        ("GlobalSecondaryIndexes", spec.global_indexes),
        ("LocalSecondaryIndexes", spec.local_indexes),
    ):
        if declared:
            properties[option] = [
                {
                    "IndexName": index.name,
                    "KeySchema": indexes.key_schema(index.partition_key, index.sort_key),
                    "Projection": indexes.projection(index),
                }
                for index in declared
            ]
    if spec.stream is not None:
        properties["StreamSpecification"] = {"StreamViewType": spec.stream}
    if spec.ttl_attribute is not None:
        properties["TimeToLiveSpecification"] = {
            "AttributeName": spec.ttl_attribute,
            "Enabled": True,
        }
    return Fragment(
        resources={
            logical: {
                "Type": "AWS::DynamoDB::Table",
                # Said out loud: `sluiceway destroy aws` removes the data with the stack.
                "DeletionPolicy": "Delete",
                "UpdateReplacePolicy": "Delete",
                "Properties": properties,
            }
        },
        outputs={
            names.output_id(spec.name, "table-name"): {
                "Description": f"Name of table {spec.name}",
                "Value": ref(logical),
            }
        },
    )
