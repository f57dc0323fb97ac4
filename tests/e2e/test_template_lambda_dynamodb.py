"""aws-samples/serverless-patterns apigw-lambda-dynamodb (MIT-0, unchanged in
tests/data/templates/): a REST API's POST / (SAM's implicit API, stage Prod) runs a function
that puts an item into a SimpleTable with boto3. As its README says: the POST answers
'Successfully inserted data!' and the item is in the table."""

from __future__ import annotations

from pathlib import Path

import boto3
import httpx
import pytest
from runtime import RuntimeProcess

from sluiceway.core.wire.credentials import Keyring

pytestmark = pytest.mark.slow

PATTERN = Path(__file__).parent.parent / "data" / "templates" / "apigw-lambda-dynamodb"


def test_a_post_to_the_api_puts_the_weather_item(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = RuntimeProcess(data, [str(PATTERN / "template.yaml")]).start(timeout=60)
    try:
        endpoint = runtime.line("EndpointUrl").split()[-1]
        assert endpoint == f"{runtime.url}/Prod"
        answer = httpx.post(endpoint, timeout=30)  # the README's test: no request body
        assert (answer.status_code, answer.text) == (200, "Successfully inserted data!")
        admin = Keyring.load(data / "keys").admin
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=runtime.url,
            region_name="us-east-1",
            aws_access_key_id=admin.access_key,
            aws_secret_access_key=admin.secret_key,
        )
        item = dynamodb.get_item(TableName="WeatherData", Key={"id": {"S": "1"}})["Item"]
        assert item == {"id": {"S": "1"}, "Weather": {"S": "Sunny"}}
    finally:
        assert runtime.stop() == 0
