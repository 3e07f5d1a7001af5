"""sync.jsonio, the one codec of both sides: the standard library's results (orjson underneath),
NaN and infinities refused both ways, numbers out of range refused when read."""

from __future__ import annotations

import json

import pytest

from sync import jsonio

SAME = [
    b'{"a":1,"b":[true,false,null],"c":"\xe4\xb8\xad\\u6587\\n","d":-0.0,"e":1.5e-300}',
    b'{"big":123456789012345678901234567890,"neg":-9223372036854775809}',  # beyond 64 bits
    b'{"u64":18446744073709551615,"i64":-9223372036854775808}',
    b'"\\ud800"',  # a lone surrogate escape: json accepts it, orjson does not
    b'{"a":1,"a":2}',
    b" \n[ ] ",
    b'{"size":1180591620717411303424,"lat":30.25,"t":"\xe4\xb8\xad"}',
    b'"\\udc00"',
]


@pytest.mark.parametrize("text", SAME)
def test_loads_gives_what_json_gives(text: bytes) -> None:
    expected = json.loads(text.decode("utf-8"))
    got = jsonio.loads(text)
    assert repr(got) == repr(expected) and type(got) is type(expected)


@pytest.mark.parametrize(
    "text", [b"NaN", b"[Infinity]", b"[-Infinity]", b"{", b"\xff", b"\xef\xbb\xbf{}", b"[1,]"]
)
def test_loads_refuses_what_the_api_refused(text: bytes) -> None:
    with pytest.raises(ValueError):
        jsonio.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        b"[1e400]",  # json alone reads infinity, orjson refuses: neither is a number here
        b'{"n":-1.5E+309}',
        b'{"pad":"' + b"9" * 19 + b'","n":1e400}',  # json reads it all (a long digit run)
        b"[" + b"7" * 5000 + b"]",  # past the interpreter's integer digit limit
    ],
)
def test_loads_refuses_numbers_out_of_range(text: bytes) -> None:
    with pytest.raises(jsonio.NumberOutOfRange):
        jsonio.loads(text)


def test_loads_reads_text_as_its_utf8_bytes() -> None:
    assert (
        jsonio.loads('{"名":"庄泉"}') == jsonio.loads('{"名":"庄泉"}'.encode()) == {"名": "庄泉"}
    )


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        {"lat": float("inf")},
        {"a": [1, {"b": -float("inf")}], "c": None},  # orjson alone writes null for each
        {"size": 2**70, "x": float("nan")},  # and the json fallback refuses too
    ],
)
def test_dumps_refuses_nan_and_infinity(value: object) -> None:
    with pytest.raises(ValueError):
        jsonio.dumps(value)
    with pytest.raises(ValueError):
        jsonio.dumps_bytes(value)


@pytest.mark.parametrize(
    "value",
    [
        {"title": "走访\u2028</script>", "n": 2**64 - 1, "f": 0.1, "l": [None, True]},
        {"size": 2**70},  # orjson cannot write it: json does
        {1: "a", None: "b"},  # non-string keys: json's rules
        {"n": "庄泉社区", "ok": [1, 2.5, None], "t": (1, None)},
    ],
)
def test_dumps_writes_what_json_writes(value: object) -> None:
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert jsonio.dumps(value) == expected
    assert jsonio.dumps_bytes(value) == expected.encode()
