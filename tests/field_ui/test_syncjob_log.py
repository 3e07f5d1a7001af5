"""The field UI's sync job logs what it turns into a sentence, without the message's data."""

from __future__ import annotations

import logging

from field_client.web.syncjob import SyncJob


def test_a_failed_sync_is_logged_by_class_and_place_only(caplog):
    def runner(progress):
        progress("push", 0, 1)
        raise RuntimeError("王芳 13912345678: disk full")

    job = SyncJob(runner)
    with caplog.at_level(logging.ERROR, logger="fieldsync.client"):
        assert job.start()
        job.wait(10)
    state = job.snapshot()
    assert state["state"] == "failed" and "disk full" in state["result"]["reason"]
    assert "RuntimeError" in caplog.text and "test_syncjob_log.py" in caplog.text
    assert "13912345678" not in caplog.text and "王芳" not in caplog.text
