"""The record rules in the field UI: a concern's people, no future times, one voice per person,
one save per form, people already recorded offered before creating."""

from __future__ import annotations

import re
import uuid

import pytest

from field_client.errors import ValidationError
from tests.field_ui.conftest import field_error, page_text
from tests.field_ui.test_field_ui_visits import visit_form


def saved_id(response) -> str:
    assert response.status_code == 302, page_text(response)[:400]
    return response.headers["Location"].rsplit("/", 1)[1]


def test_a_concern_raised_in_a_visit_names_the_visit_and_its_people(client, store):
    form = visit_form(
        person_name=["王阿姨", "李叔"], person_kind=["resident", "resident"],
        person_phone=["", ""], concern_title=["楼道灯坏了"], concern_category=["other"],
        concern_priority=["normal"], concern_group=[""], concern_support_of=[""],
    )  # fmt: skip
    visit_id = saved_id(client.post("/visits/new", data=form))
    people = store.get("visit", visit_id)["fields"]["party_ids"]
    [concern] = store.list("concern")
    fields = concern["fields"]
    assert (fields["visit_id"], fields["party_ids"], fields["party_id"]) == (
        visit_id, people, people[0],
    )  # fmt: skip
    assert "王阿姨、李叔" in page_text(client.get(f"/concerns/{concern['id']}"))
    # a way to choose: the concern's form offers the people met, and one can be picked
    edit = client.get(f"/concerns/{concern['id']}/edit").get_data(as_text=True)
    assert 'id="concern-people"' in edit and "李叔" in edit
    answer = client.post(
        f"/concerns/{concern['id']}/edit",
        data={"title": "楼道灯坏了", "category": "other", "priority": "normal",
              "party_ids": [people[1]]},
    )  # fmt: skip
    assert answer.status_code == 302
    fields = store.get("concern", concern["id"])["fields"]
    assert (fields["party_ids"], fields["party_id"]) == ([people[1]], people[1])


@pytest.mark.parametrize("typed", ["2099-01-01T09:00", "2026-05-31T21:00"])
def test_a_time_ahead_of_the_device_clock_is_refused_next_to_the_field(client, store, typed):
    response = client.post("/visits/new", data=visit_form(started_at=typed, ended_at=""))
    assert response.status_code == 422
    assert field_error(response, "started_at").startswith("不能晚于现在")
    assert f'value="{typed}"' in response.get_data(as_text=True)  # what was typed is kept
    assert store.list("visit") == []
    # a few minutes ahead (a clock a little behind) is fine
    ok = client.post("/visits/new", data=visit_form(started_at="2026-05-31T09:33", ended_at=""))
    assert ok.status_code == 302


def test_the_store_itself_refuses_future_times(store):
    with pytest.raises(ValidationError) as caught:
        store.create("visit", {"kind": "forum", "started_at": "2099-01-01T00:00:00+08:00"})
    assert caught.value.errors == {"started_at": ["must not be in the future"]}
    cid = store.create("concern", {"title": "噪音"})
    with pytest.raises(ValidationError):
        store.update("concern", cid, {"resolved_on": "2099-01-01"})


def voice_form(key: str, party_id: str = "") -> dict:
    return {"kind": "support", "note": "", "form_key": key, "party_id": party_id}


def test_one_voice_per_person_and_one_save_per_form(client, store):
    place = store.create("place", {"kind": "compound", "name": "百盛家园"})
    wang = store.create("party", {"kind": "resident", "name": "王阿姨", "place_id": place})
    cid = store.create("concern", {"title": "停车难", "place_id": place})
    key = str(uuid.uuid4())
    for _ in range(2):  # a double tap sends the same form twice
        client.post(f"/concerns/{cid}/follow-up", data=voice_form(key, wang))
    again = client.post(f"/concerns/{cid}/follow-up", data=voice_form(str(uuid.uuid4()), wang))
    assert "此人已附议过" in page_text(client.get(again.headers["Location"]))
    voices = store.list("follow_up", subject=cid)
    assert [(v["id"], v["fields"]["party_id"]) for v in voices] == [(key, wang)]
    # anonymous voices (a forum) count one each
    for _ in range(2):
        client.post(f"/concerns/{cid}/follow-up", data=voice_form(str(uuid.uuid4())))
    assert len(store.list("follow_up", subject=cid)) == 3
    assert "王阿姨" in page_text(client.get(f"/concerns/{cid}"))


def test_a_visit_form_sent_twice_is_saved_once(client, store):
    form = visit_form(form_key=str(uuid.uuid4()))
    first = saved_id(client.post("/visits/new", data=form))
    second = client.post("/visits/new", data=form)
    assert saved_id(second) == first == form["form_key"]
    assert len(store.list("visit")) == 1 and len(store.list("concern")) == 2


def test_a_person_already_recorded_is_offered_before_creating(client, store):
    place = store.create("place", {"kind": "compound", "name": "百盛家园"})
    wang = store.create(
        "party", {"kind": "resident", "name": "王阿姨", "phone": "13800138000", "place_id": place}
    )
    form = visit_form(person_name=["王姨"], person_phone=["138 0013 8000"])
    offered = client.post("/visits/new", data=form)
    assert offered.status_code == 422
    assert field_error(offered, "person_name.0").startswith("已经记录过：王阿姨")
    html = offered.get_data(as_text=True)
    assert f'value="{wang}" checked' in html and 'name="person_new_ok"' in html
    assert store.list("visit") == [] and len(store.list("party")) == 1
    # saving again with the offered person chosen uses that person
    visit_id = saved_id(client.post("/visits/new", data=dict(form, party_ids=[wang])))
    assert store.get("visit", visit_id)["fields"]["party_ids"] == [wang]
    assert len(store.list("party")) == 1
    # same name at the same place is offered too; "a different person" creates one
    same_name = visit_form(place_name="", place_id=place, person_name=["王阿姨"])
    assert client.post("/visits/new", data=same_name).status_code == 422
    saved_id(client.post("/visits/new", data=dict(same_name, person_new_ok=["0"])))
    assert len(store.list("party")) == 2


def test_an_untitled_visit_reads_kind_place_first_person_and_date(client, store):
    form = visit_form(title="", person_name=["王阿姨", "李叔"], person_kind=["resident"] * 2,
                      person_phone=["", ""])  # fmt: skip
    visit_id = saved_id(client.post("/visits/new", data=form))
    line = "入户走访 · 百盛家园 · 王阿姨 +1 · 2026-05-31"
    assert line in page_text(client.get(f"/visits/{visit_id}"))
    home = page_text(client.get("/"))
    assert line in home and "入户走访 入户走访" not in home


def test_errors_keep_what_was_typed_and_are_tied_to_their_inputs(client, store):
    response = client.post("/visits/new", data=visit_form(started_at="明天上午", ended_at=""))
    html = response.get_data(as_text=True)
    started = re.search(r'<input[^>]*id="f-started_at"[^>]*>', html).group(0)
    assert 'type="text"' in started and 'value="明天上午"' in started  # not emptied
    assert 'aria-invalid="true"' in started and 'aria-describedby="err-started_at"' in started
    assert 'id="err-started_at" role="alert"' in html
    assert 'role="alert"' in html.split("<main>", 1)[1].split("</div>", 1)[0]  # the summary


def test_every_input_of_the_person_and_concern_rows_has_a_label(client, store):
    html = client.get("/visits/new").get_data(as_text=True)
    pattern = r'<div class="subrow (?:person|concern)-row">.*?\n      </div>\n'
    rows = re.findall(pattern, html, re.S)
    assert len(rows) == 2
    for row in rows:
        controls = re.findall(r'<(?:input|select)(?![^>]*type="hidden")[^>]*>', row)
        assert len(controls) >= 3
        for control in controls:
            control_id = re.search(r'id="([^"]+)"', control).group(1)
            assert f'<label for="{control_id}"' in html, control
