"""A small schemathesis run against the served OpenAPI spec: no input makes a 5xx.

Hypothesis drives schemathesis's generated cases by hand (its pytest plugin does not load
under this pytest); a few examples per operation keep it cheap."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

EXAMPLES = 6


def test_no_input_makes_a_server_error(api):
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case) -> None:
            response = case.call(base_url=api.url, headers=api.auth(), timeout=30)
            assert response.status_code < 500, (case.method, case.path, response.text)

        no_server_error()
