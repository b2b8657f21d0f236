"""Schemathesis against `clockwf serve`'s OpenAPI document, on both stores: generated requests
(valid and not) never get a server error, and every response matches the schema."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from clockwf import lifecycle, runs, tokens
from clockwf.scheduler import tick
from clockwf.store import open_store
from clockwf.validate import validate_source

from .web_support import running_server

NOW = datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
DEFINITION = """\
id: nightly
trigger: {type: recurring, cron: "30 2 * * *", timezone: America/New_York}
steps: [{run: "true"}]
"""


@dataclass
class Served:
    url: str
    token: str


@pytest.fixture
def served(store_url: str, namespace: str) -> Iterator[Served]:
    with open_store(store_url, namespace) as store:
        report = validate_source(DEFINITION, "n.yaml", NOW - timedelta(days=2),
                                 for_publish=True)
        lifecycle.publish(store, [report], NOW - timedelta(days=2))
        tick(store, NOW, instance="test")
        runs.start_manual(store, "nightly", NOW)
        token = tokens.create(store, "fuzz", "admin", NOW)
    with running_server(store_url, namespace, now=NOW) as url:
        yield Served(url, token)


def test_the_api_keeps_to_its_schema(served: Served) -> None:
    schema = schemathesis.openapi.from_url(served.url + "/api/v1/openapi.json")
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        tested.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {served.token}"},
                                   checks=checks)

        call()
    assert "POST /api/v1/workflows/{workflow_id}/runs" in tested
    assert len(tested) >= 14
