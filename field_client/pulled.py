"""A pull page as this device reads it (docs/protocol.md section 6).

The store keeps a pulled record's fields, stamps and meta as JSON text. Decoding a whole page
into Python objects only to encode those parts again was most of the device's work on a pull
(10,000 visits: about 105 ms of CPU to decode the page and build the rows, 55 ms this way).
msgspec's typed decoder checks the page's syntax and keeps those parts as the exact bytes
received (``msgspec.Raw``); ``read_page`` then checks each record strictly: fields an object,
stamps an object of strings, meta an object, all of it valid UTF-8. A page that fails
anywhere is refused whole, as ``ValueError`` (no NaN, no Infinity: msgspec reads strict JSON;
an integer of any size is read exactly, and one beyond a double's range, ``1e400``, refused).

Fields are decoded (for the counts, and a pulled record that keeps edits made here): that is
also the cheapest strict check of them. msgspec passes over a part it keeps raw without
checking its UTF-8 or the range of its numbers; checking both with scans of the bytes (a
``str`` of them, a ``translate`` and three ``in`` tests) took 18 ms of CPU for 10,000 visits,
and finding those with review fields for the counts 3.5 ms more, against 15 ms to decode.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple, cast

import msgspec

from sync import jsonio

__all__ = ["Pulled", "read_page", "unread"]


class Pulled(NamedTuple):
    """One pulled record: its parts decoded, and its fields, stamps and meta as the JSON to
    store (fields and stamps as the UTF-8 bytes received, or text)."""

    type: str
    id: str
    fields: dict[str, Any]
    fields_json: bytearray | str
    stamps: dict[str, str]
    stamps_json: bytearray | str
    deleted: bool
    meta_json: str

    @classmethod
    def of(cls, record: dict[str, Any]) -> Pulled:
        """Return a record given in wire form as data (as in-process callers hold one)."""
        fields, stamps = record.get("fields") or {}, record.get("stamps") or {}
        return cls(
            record["type"],
            record["id"],
            fields,
            jsonio.dumps(fields),
            stamps,
            jsonio.dumps(stamps),
            bool(record.get("deleted")),
            jsonio.dumps(record.get("meta") or {}),
        )


class _Record(msgspec.Struct, gc=False):  # no cycle can pass through one: not tracked
    type: str
    id: str
    fields: msgspec.Raw
    stamps: msgspec.Raw
    deleted: bool
    meta: msgspec.Raw


class _Page(msgspec.Struct):
    records: list[_Record]
    more: bool
    cursor: str | None = None
    server_time: str | None = None
    total: int | None = None


_PAGE = msgspec.json.Decoder(_Page)
_OBJECT = msgspec.json.Decoder(dict[str, Any])
_STAMPS = msgspec.json.Decoder(dict[str, str])
# An escape JSON does not require (what a regular expression finds in the fields of 10,000
# visits with a line break each in 3.3 ms of CPU; two ``in`` tests took 12.8 ms)
_ESCAPED = re.compile(rb"\\[u/]")


def unread(body: bytes) -> dict[str, Any]:
    """Return a pull page's body as received (gzip undone), for ``read_page`` to read later.

    The syncer reads a page on its own thread, not on the one that downloads it: msgspec holds
    the GIL through a whole decode, and while the download thread decoded, the thread applying
    the previous page could not take the GIL back after each ``sqlite3_step`` (it waited out
    the switch interval): the two threads ran in turn, not together."""
    return {"body": body}


def read_page(body: bytes) -> dict[str, Any]:
    """Return a pull page's envelope as data, its records as ``Pulled``; raise ValueError if
    any of it is malformed."""
    try:
        page = _PAGE.decode(body)
        records = _read(page.records)
        if b"\\" in body:  # one memchr: 0.2 ms of CPU over the pages of 10,000 visits
            records = _as_themselves(records)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed pull page: {exc}") from exc
    return {
        "records": records,
        "more": page.more,
        "cursor": page.cursor,
        "server_time": page.server_time,
        "total": page.total,
    }


def _read(records: list[_Record]) -> list[Pulled]:
    # Fields and stamps are decoded from the bytes received (which checks their UTF-8 too) and
    # stored as those bytes: making Python strings of them, for sqlite3 to encode them back to
    # UTF-8, took 5% of the device's CPU on a pull (67 of 1,280 M instructions for 10,000
    # visits: their Chinese text makes two-byte strings). Meta is only kept and shown, never
    # decoded: decoding the page checked its syntax (as it skipped over it), so only its shape
    # is left to check (saves a decode: 3.5 ms of CPU in a pull of 10,000), and ``str`` checks
    # its UTF-8. One comprehension, no call of Python per record. A bytearray, not bytes:
    # sqlite3 binds it as it is, where it adapts bytes by a failing ``__conform__`` lookup (a
    # formatted exception per parameter).
    fields, stamps, new = _OBJECT.decode, _STAMPS.decode, tuple.__new__
    read = [
        new(
            Pulled,
            (
                r.type,
                r.id,
                fields(r.fields),
                bytearray(r.fields),
                stamps(r.stamps),
                bytearray(r.stamps),
                r.deleted,
                str(r.meta, "utf-8"),
            ),
        )
        for r in records
    ]
    if not all(record.meta_json.startswith("{") for record in read):
        raise msgspec.ValidationError("Expected `object` - at `$.records[...].meta`")
    return read


def _as_themselves(records: list[Pulled]) -> list[Pulled]:
    """Return the records with every character of their fields' JSON as itself but for the
    escapes JSON requires, as the store keeps them (a search relies on it:
    ``field_client.store.common.text_match``): fields escaped otherwise (``\\u8d70`` for 走,
    ``\\/``), as a server may write them, are written anew. The records are as ``_read``
    returns them: their fields as the bytes received."""
    escaped = _ESCAPED.search
    return [
        r._replace(fields_json=jsonio.dumps(r.fields))
        if escaped(cast(bytearray, r.fields_json))
        else r
        for r in records
    ]
