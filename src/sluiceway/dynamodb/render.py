"""DynamoDB on AWS: a table as an ``AWS::DynamoDB::Table`` (on demand, encrypted, with
point-in-time recovery), with its stream and time to live when declared, its name as an
output."""

from __future__ import annotations

from typing import Any

from sluiceway.aws import names
from sluiceway.aws.checks import check_rendered, describe
from sluiceway.aws.fragment import Fragment
from sluiceway.core.cfn import ref
from sluiceway.dynamodb.spec import TableSpec


def render_table(spec: TableSpec) -> Fragment:
    check_rendered(spec, describe(spec))
    for key in (spec.partition_key, spec.sort_key):
        if key is not None:
            check_rendered(key, describe(spec))
    logical = names.resource_id(spec.name)
    keys = [(spec.partition_key, "HASH")]
    if spec.sort_key is not None:
        keys.append((spec.sort_key, "RANGE"))
    properties: dict[str, Any] = {
        "TableName": spec.name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": key.name, "AttributeType": key.type} for key, _ in keys
        ],
        "KeySchema": [{"AttributeName": key.name, "KeyType": role} for key, role in keys],
        "SSESpecification": {"SSEEnabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    }
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
