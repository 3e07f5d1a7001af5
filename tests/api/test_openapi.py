"""The OpenAPI document, and a bounded schemathesis run over the API in process (SQLite)."""

from __future__ import annotations

import json
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR

from sync import RECORD_TYPES
from tests.api.conftest import enroll, make_app


def test_openapi_document_is_valid_and_complete(app):
    response = app.test_client().get("/api/v1/openapi.json")  # no header, no token needed
    assert response.status_code == 200
    document = json.loads(response.data)
    errors = [error.message for error in OPENAPI_30_VALIDATOR.iter_errors(document)]
    assert errors == []
    assert set(document["paths"]) == {
        "/api/v1/healthz", "/api/v1/enroll", "/api/v1/device", "/api/v1/sync/push",
        "/api/v1/sync/pull", "/api/v1/blobs/missing", "/api/v1/blobs/{sha256}",
        "/api/v1/vocabulary", "/api/v1/device/wiped",
    }  # fmt: skip
    schemas = document["components"]["schemas"]
    assert {"Problem", "PushRequest", "PushResponse", "PullResponse", "EnrollRequest"} <= set(
        schemas
    )
    concern = schemas["ConcernFields"]["properties"]
    assert concern["status"]["enum"][:2] == ["new", "accepted"]
    assert concern["title"]["maxLength"] == 200
    for name, rtype in RECORD_TYPES.items():
        title = "".join(part.capitalize() for part in name.split("_"))
        assert set(schemas[f"{title}Fields"]["properties"]) == set(rtype.rules)
    forms = schemas["PushRequest"]["properties"]["changes"]["items"]["anyOf"]
    assert [form["$ref"].rsplit("/", 1)[1] for form in forms] == ["Change", "CompactChange"]
    push = document["paths"]["/api/v1/sync/push"]["post"]
    assert {"413", "422", "426"} <= set(push["responses"])
    for path, item in document["paths"].items():  # every operation that needs the header
        for operation in item.values():
            if "Protocol" in str(operation.get("parameters")):
                assert "426" in operation["responses"], path


def test_stamps_cursors_and_hashes_have_their_formats(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    stamps = [
        schemas["FieldWrite"]["properties"]["stamp"],
        schemas["CompactChange"]["properties"]["stamp"],
        schemas["CompactChange"]["properties"]["bases"]["additionalProperties"],
        schemas["PushRequest"]["properties"]["device_time"],
        schemas["PushResponse"]["properties"]["server_time"],
        schemas["PullResponse"]["properties"]["server_time"],
        schemas["Record"]["properties"]["stamps"]["additionalProperties"],
    ]
    assert all(re.fullmatch(s["pattern"], "1780000000000-000001-office-1") for s in stamps)
    assert not any(re.fullmatch(s["pattern"], "١٧٨٠٠٠٠٠٠٠٠٠٠-000001-x") for s in stamps)
    assert schemas["PullResponse"]["properties"]["cursor"]["pattern"]
    pull = document["paths"]["/api/v1/sync/pull"]["get"]["parameters"]
    assert any(p.get("name") == "cursor" and p["schema"].get("pattern") for p in pull)
    following = document["paths"]["/api/v1/sync/pull"]["get"]["responses"]["200"]["headers"]
    assert (
        following["Fieldsync-Next"]["schema"]["pattern"]
        == (schemas["PullResponse"]["properties"]["cursor"]["pattern"])
    )
    assert schemas["AttachmentFields"]["properties"]["sha256"]["pattern"]


@pytest.fixture
def fuzz_app(sqlite_url, tmp_path, clock):
    app = make_app(sqlite_url, tmp_path, clock)
    with app.app_context():
        from server import services

        services.create_workspace("庄泉社区")
        services.create_user("wang", "庄泉社区", "representative")
    return app


def fuzzer(operation, mode, headers, seen, examples=15):
    """Return a hypothesis test that calls one operation with generated requests."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        if mode is GenerationMode.POSITIVE:  # a valid request: the response must match its schema
            response = case.call_and_validate(
                headers=headers, checks=[response_schema_conformance]
            )
        else:
            response = case.call(headers=headers)
        seen.append((operation.label, response.status_code))
        assert response.status_code < 500, (operation.label, response.text[:300])
        if response.status_code >= 400:
            assert response.headers["content-type"][0] == "application/problem+json"
            body = response.json()
            assert body["status"] == response.status_code and body["code"]

    return run


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_server_error(fuzz_app, clock, mode):
    device = enroll(fuzz_app, "wang", clock)
    headers = {"Fieldsync-Protocol": "1", "Authorization": f"Bearer {device.token}"}
    # schemathesis sends requests' default Accept-Encoding but does not decode gzip in process.
    headers["Accept-Encoding"] = "identity"
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    seen: list[tuple[str, int]] = []
    for result in schema.get_all_operations():
        try:
            fuzzer(result.ok(), mode, headers, seen)()
        except Unsatisfiable:
            # Nothing can be wrong in a call without parameters (healthz), or with only the
            # header this test fixes: there is no negative case to make.
            assert mode is GenerationMode.NEGATIVE
    labels = {label for label, _ in seen}
    with_inputs = {"POST /api/v1/enroll", "POST /api/v1/sync/push", "GET /api/v1/sync/pull"}
    assert with_inputs <= labels and (mode is GenerationMode.NEGATIVE or len(labels) == 10)
    if mode is GenerationMode.NEGATIVE:
        assert {status for _, status in seen} & {400, 415, 422}


def test_the_vocabulary_is_served_as_json_for_the_field_app(app):
    response = app.test_client().get("/api/v1/vocabulary")  # no header, no token needed
    assert response.status_code == 200 and response.mimetype == "application/json"
    words = json.loads(response.data)
    assert words["choices"]["concern.priority"]["urgent"] == ["紧急", "Urgent"]
    assert words["faults"]["too_long"][0] == "最多 {max} 个字"
