"""aws-samples/serverless-patterns apigw-http-api-lambda-python (MIT-0, unchanged in
tests/data/templates/): an HTTP API whose only route is SAM's default one (a `Type: HttpApi`
event without a path, the `$default` route), in front of an inline Python function. As its
README says: a request to the API's invoke URL answers 'Hello World! This is the HTTP API'."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from runtime import RuntimeProcess

pytestmark = pytest.mark.slow

PATTERN = Path(__file__).parent.parent / "data" / "templates" / "apigw-http-api-lambda-python"


def test_any_request_to_the_api_gets_the_functions_hello(tmp_path: Path) -> None:
    # The inline code is written beside the template (.sluiceway/inline): run a copy.
    app = shutil.copytree(PATTERN, tmp_path / "app")
    runtime = RuntimeProcess(tmp_path / "data", [str(app / "template.yaml")]).start(timeout=60)
    try:
        api_id = runtime.line("HttpApiEndpoint").split()[-1]
        assert f"  ANY {runtime.url}/* ($default) -> function " in "\n".join(runtime.output)
        assert api_id  # the output is the API's id (Ref), as on AWS; its URL is the runtime's
        root = httpx.get(f"{runtime.url}/", timeout=30)
        assert (root.status_code, root.text) == (200, "Hello World! This is the HTTP API")
        other = httpx.post(f"{runtime.url}/any/path", content=b"x", timeout=30)
        assert (other.status_code, other.text) == (200, "Hello World! This is the HTTP API")
    finally:
        assert runtime.stop() == 0
