"""The field UI answers only its own loopback address, and writes only from its own pages
(DNS rebinding, issue 9 item 3)."""

from __future__ import annotations

import pytest

from tests.field_ui.test_field_ui_visits import visit_form


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "127.0.0.1.nip.io"])
def test_another_host_name_gets_nothing(client, store, host):
    store.create("party", {"kind": "resident", "name": "张秀英"})
    response = client.get("/", headers={"Host": host})
    assert response.status_code == 400 and "张秀英" not in response.get_data(as_text=True)


def test_a_write_from_another_origin_is_refused(client, store):
    response = client.post(
        "/visits/new", data=visit_form(), headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 403
    assert store.status()["pending"] == 0


def test_its_own_pages_still_work(client):
    assert client.get("/", headers={"Host": "127.0.0.1:8123"}).status_code == 200
    origin = {"Origin": "http://localhost"}
    assert client.post("/visits/new", data=visit_form(), headers=origin).status_code == 302


def test_the_port_must_match_once_known(app):
    from field_client.web import allowed_host

    app.config["FIELDSYNC_WEB_PORT"] = 8123
    assert allowed_host("127.0.0.1:8123", app) and allowed_host("localhost:8123", app)
    assert not allowed_host("127.0.0.1:9999", app) and not allowed_host("evil:8123", app)
