"""Property-based fuzzing of the whole HTTP API with schemathesis, from the app's own OpenAPI
document, in-process over ASGI (no network): for a bounded number of generated requests
per operation, authenticated as a real administrator through an API key, no answer is a
5xx and every answer matches the document (status, content type, body schema).

Generation is derandomized, so a run is repeatable and a failure reproduces; raise
`FUZZ_EXAMPLES` locally to dig deeper (`KEEPSAKE_FUZZ_EXAMPLES=200 pytest -k fuzz`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from keepsake.app import Container, build_container, create_app
from keepsake.clock import ManualClock
from keepsake.ml.fake import FunctionFaceAnalyzer
from tests.conftest import make_settings
from tests.helpers import jpeg_bytes, new_account, upload

FUZZ_EXAMPLES = int(os.environ.get("KEEPSAKE_FUZZ_EXAMPLES", "10"))
CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzzed(tmp_path: Path, database_url: str, clock: ManualClock) -> Iterator[Container]:
    # A face analyzer that finds nothing: the fuzzer turns face recognition on and off, and
    # the real models would only cost time here (tests/ml covers them).
    container = build_container(
        make_settings(tmp_path / "data", database_url),
        clock=clock,
        face_analyzer=FunctionFaceAnalyzer(lambda _image: []),
    )
    try:
        yield container
    finally:
        container.close()


def test_fuzzing_the_api_finds_no_server_error_and_no_answer_off_the_schema(
    fuzzed: Container,
) -> None:
    container = fuzzed
    client = TestClient(create_app(container, start_jobs=False))
    alice = new_account(client, "alice@example.org")
    new_account(client, "bob@example.org", admin_headers=alice.headers)
    # Something to find: photos, an album, so generated ids sometimes meet real rows.
    upload(client, alice, jpeg_bytes(seed=1))
    client.post("/api/albums", json={"name": "fuzzed"}, headers=alice.headers)
    key = client.post("/api/api-keys", json={"name": "fuzz"}, headers=alice.headers).json()
    auth = {"Authorization": f"Bearer {key['secret']}"}

    schema = schemathesis.openapi.from_asgi(
        "/api/openapi.json", create_app(container, start_jobs=False)
    )
    # PostgreSQL refuses what SQLite stores (NUL characters, over-long strings), so it is
    # fuzzed too, with half the examples: the same operations, to bound the run time.
    examples = FUZZ_EXAMPLES if container.db.is_sqlite else max(3, FUZZ_EXAMPLES // 2)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=auth, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # one report for every failed operation
            failures.append(f"{operation.label}:\n{str(exc)[:1500]}")
    assert operations > 50
    assert not failures, "\n\n".join(failures)
