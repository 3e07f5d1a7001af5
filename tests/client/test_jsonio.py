"""field_client.jsonio reads and writes exactly what the standard library does."""

from __future__ import annotations

import json

import pytest

from field_client import jsonio


@pytest.mark.parametrize(
    "text",
    [
        b'{"size":1180591620717411303424,"lat":30.25,"t":"\xe4\xb8\xad"}',
        b'{"x":NaN}',  # answers were read by json.loads, which takes NaN
        b"\xef\xbb\xbf{}",  # and a UTF-8 byte order mark
        b'"\\udc00"',
    ],
)
def test_loads_gives_what_json_gives(text: bytes) -> None:
    assert repr(jsonio.loads(text)) == repr(json.loads(text))


def test_loads_refuses_what_json_refuses() -> None:
    with pytest.raises(ValueError):
        jsonio.loads(b"{oops")


@pytest.mark.parametrize("value", [{"n": "庄泉社区", "size": 2**70, "ok": [1, 2.5, None]}, {1: 2}])
def test_dumps_writes_what_json_writes(value: object) -> None:
    assert jsonio.dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
