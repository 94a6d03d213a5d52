"""Property-based run over the whole OpenAPI schema with an admin key, on both
backends: valid and invalid requests alike never get a 5xx, and every response
matches its documented schema and content type.

Each operation gets its own Hypothesis run (schemathesis's ``as_strategy`` API); the
pytest plugin's lazy ``from_fixture`` loader is not used because it predates the
pytest version here.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.api.conftest import Keys

EXAMPLES_PER_OPERATION = 20
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_never_answers_with_a_server_error(
    app: FastAPI, keys: Keys, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"invalid OpenAPI operation: {result.err()}"
        operations.append(result.ok())
    assert len(operations) > 40

    for operation in operations:
        inputs = len(operation.path_parameters) + len(operation.query) + len(operation.body)
        if mode is GenerationMode.NEGATIVE and not inputs:
            continue  # only the Authorization header, which the test always sends valid

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Case[Any]) -> None:
            case.call_and_validate(headers=keys.admin, checks=CHECKS)

        run()
