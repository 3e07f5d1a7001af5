"""Reading a pull page off the wire: each record's JSON parts kept as received, the whole page
checked strictly (field_client.pulled)."""

from __future__ import annotations

import json

import pytest

from field_client.pulled import Pulled, read_page

STAMP = "1780000000000-000001-dev-b"


def page(**record: object) -> bytes:
    """A one-record page with ``record``'s parts given as JSON text (None: leave it out)."""
    parts = {
        "type": '"visit"',
        "id": '"v1"',
        "fields": '{"title":"\\u8d70\\u8bbf","count":123456789012345678901234567890}',
        "stamps": f'{{"title":"{STAMP}","count":"{STAMP}"}}',
        "deleted": "false",
        "meta": '{"seq":1}',
        **record,
    }
    text = ",".join(f'"{k}":{v}' for k, v in parts.items() if v is not None)
    return (
        f'{{"records":[{{{text}}}],"cursor":"c1","more":false,"server_time":"{STAMP}"}}'.encode()
    )


def test_parts_are_kept_as_the_text_received_and_decoded_exactly():
    fields = '{"title":"走访\\n\\"说明\\"","count":123456789012345678901234567890}'
    read = read_page(page(fields=fields))
    [record] = read["records"]
    assert record.fields_json == fields.encode()
    assert record.fields == {"title": '走访\n"说明"', "count": 123456789012345678901234567890}
    assert record.stamps == {"title": STAMP, "count": STAMP}
    assert record.meta_json == '{"seq":1}' and record.deleted is False
    assert (read["cursor"], read["more"], read["server_time"]) == ("c1", False, STAMP)


def test_fields_escaped_beyond_what_json_requires_are_written_with_each_character_as_itself():
    """A search passes over records whose JSON text lacks the text sought: the store keeps
    every character as itself but for the escapes JSON requires."""
    [record] = read_page(page())["records"]  # "\\u8d70\\u8bbf": 走访
    assert record.fields_json == '{"title":"走访","count":123456789012345678901234567890}'
    [record] = read_page(page(fields='{"path":"a\\/b\\\\u","note":"\\"\\u0001"}'))["records"]
    assert record.fields == {"path": "a/b\\u", "note": '"\x01'}
    assert record.fields_json == '{"path":"a/b\\\\u","note":"\\"\\u0001"}'


def test_a_record_in_wire_form_as_data_reads_the_same():
    [record] = read_page(page())["records"]
    data = {
        "type": "visit",
        "id": "v1",
        "fields": record.fields,
        "stamps": record.stamps,
        "deleted": False,
        "meta": {"seq": 1},
    }
    again = Pulled.of(data)
    assert again._replace(fields_json="", stamps_json="") == record._replace(
        fields_json="", stamps_json=""
    )
    assert json.loads(again.fields_json) == json.loads(record.fields_json)
    assert json.loads(again.stamps_json) == json.loads(record.stamps_json)


@pytest.mark.parametrize(
    "record",
    [
        {"fields": '["a list"]'},
        {"fields": '{"n":NaN}'},
        {"fields": '{"n":1e400}'},
        {"fields": '{"title":"\\ud800"}'},
        {"fields": '{"title":}'},
        {"stamps": '{"title":1}'},
        {"stamps": None},
        {"meta": '"text"'},
        {"meta": '["seq"]'},
        {"meta": "null"},
        {"meta": '{"a":"\\ud800"}'},
        {"meta": '{"seq":}'},
        {"deleted": '"no"'},
        {"id": "7"},
    ],
)
def test_a_malformed_record_refuses_the_whole_page(record):
    with pytest.raises(ValueError, match="malformed pull page"):
        read_page(page(**record))


def test_text_that_is_not_utf8_refuses_the_page():
    body = page(fields='{"title":"X"}').replace(b"X", b"\xff")
    with pytest.raises(ValueError, match="malformed pull page"):
        read_page(body)


def test_an_envelope_without_more_refuses_the_page():
    with pytest.raises(ValueError, match="malformed pull page"):
        read_page(b'{"records":[],"cursor":"c1"}')


def test_a_page_read_off_the_wire_is_stored_as_the_same_page_given_as_data(tmp_path, clock):
    """The bytes received are stored as text, with the same change time as the record given
    as data (in-process callers) would have, and found by the same searches."""
    from tests.client.conftest import enrolled_store

    text = (
        '{"records":[{"type":"visit","id":"v1","fields":{"kind":"forum","title":"\\u8d70访\\n座谈",'
        '"place_id":"p1","attendee_count":12,"summary":"说明\\"引号\\""},'
        f'"stamps":{{"kind":"{STAMP}","title":"{STAMP}","place_id":"{STAMP}",'
        f'"attendee_count":"{STAMP}","summary":"1780000000001-000000-dev-c"}},'
        '"deleted":false,"meta":{"workspace_id":"w1","seq":7}}],'
        f'"cursor":"c1","more":false,"server_time":"{STAMP}"}}'
    )
    columns = "id, type, fields, stamps, deleted, meta, updated_ms"
    rows, kinds = [], []
    for name, page in (("wire", read_page(text.encode())), ("data", json.loads(text))):
        store = enrolled_store(tmp_path / name, clock)
        assert store.apply_pull_page(page) == {"received": 1, "new": 1, "returned": 0}
        [row] = store.db.execute_sql(f"SELECT {columns} FROM record").fetchall()
        kinds.append(
            store.db.execute_sql("SELECT typeof(fields), typeof(stamps) FROM record").fetchone()
        )
        rows.append((*row[:2], json.loads(row[2]), json.loads(row[3]), *row[4:]))
        assert [r["id"] for r in store.search("座谈")] == ["v1"]
        assert [r["id"] for r in store.search("走访")] == ["v1"]  # sent as "\\u8d70访"
        assert [r["id"] for r in store.search('"引号"')] == ["v1"]
        assert store.search("p1") == []  # a reference is not text
        store.close()
    assert rows[0] == rows[1]
    assert kinds == [("text", "text")] * 2
    assert rows[0][6] == 1780000000001
