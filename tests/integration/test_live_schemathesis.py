"""Schemathesis against the live server process (issue 9, Build): every endpoint, over real
HTTP, positive requests checked against the OpenAPI document, negative ones never a 5xx.
Bounded: the fuzzer of tests/api/test_openapi.py, 8 examples per endpoint and mode."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode

from tests.api.test_openapi import fuzzer
from tests.integration.live import LiveServer


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The server process, and the headers of a device enrolled before any fuzzing (fuzzed
    enrollments fail, and enough failures hold the address back)."""
    server = LiveServer(tmp_path_factory.mktemp("live-fuzz")).setup("wang")
    server.start()
    body = {"code": server.code("wang"), "device_name": "fuzz"}
    answer = requests.post(
        server.url + "/api/v1/enroll", json=body, headers={"Fieldsync-Protocol": "1"}, timeout=30
    )
    assert answer.status_code == 201, answer.text
    yield server, {"Fieldsync-Protocol": "1", "Authorization": f"Bearer {answer.json()['token']}"}
    server.stop()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_against_the_live_server(live, mode):
    live, headers = live
    schema = schemathesis.openapi.from_url(live.url + "/api/v1/openapi.json")
    seen: list[tuple[str, int]] = []
    for result in schema.get_all_operations():
        try:
            fuzzer(result.ok(), mode, headers, seen, examples=8)()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing to get wrong in healthz
    labels = {label for label, _ in seen}  # healthz and vocabulary have no negative case
    assert len(labels) == (10 if mode is GenerationMode.POSITIVE else 8), labels
