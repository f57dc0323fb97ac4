"""aws-samples/serverless-patterns apigw-rest-api-dynamodb (MIT-0, unchanged in
tests/data/templates/): a REST API whose methods are DynamoDB integrations with Velocity
request and response templates, behind an API key of a usage plan. As its README says: POST
/v1/music stores an item (its id the request id), GET /v1/music/{artist} queries the artist's
index and answers the response template's JSON."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from runtime import RuntimeProcess, template_outputs

pytestmark = pytest.mark.slow

PATTERN = Path(__file__).parent.parent / "data" / "templates" / "apigw-rest-api-dynamodb"


def test_the_api_stores_and_queries_music_through_mapping_templates(tmp_path: Path) -> None:
    runtime = RuntimeProcess(tmp_path / "data", [str(PATTERN / "template.yml")]).start(timeout=60)
    try:
        listing = template_outputs(runtime)
        root = listing["outputs"]["ApiRootUrl"]
        assert root == f"{runtime.url}/v1"
        (key,) = listing["api_keys"].values()
        album = {"artist": "The Beatles", "album": "Abbey Road"}

        refused = httpx.post(f"{root}/music", json=album, timeout=30)
        assert (refused.status_code, refused.json()) == (403, {"message": "Forbidden"})
        wrong = httpx.post(f"{root}/music", json=album, headers={"x-api-key": "nope"}, timeout=30)
        assert wrong.status_code == 403

        headers = {"x-api-key": key}
        stored = httpx.post(f"{root}/music", json=album, headers=headers, timeout=30)
        assert (stored.status_code, stored.json()) == (200, {})
        other = {"artist": "Nina Simone", "album": "Pastel Blues"}
        assert httpx.post(f"{root}/music", json=other, headers=headers, timeout=30).is_success

        found = httpx.get(f"{root}/music/The+Beatles", headers=headers, timeout=30)
        assert found.status_code == 200, found.text
        (item,) = found.json()["music"]
        assert (item["artist"], item["album"]) == ("The Beatles", "Abbey Road")
        assert item["id"] == stored.headers["x-amzn-requestid"]  # $context.requestId
    finally:
        assert runtime.stop() == 0
