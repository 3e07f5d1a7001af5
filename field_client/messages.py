"""What the field client says to people, in Simplified Chinese (default) and English.

Sentences are English marked for the field client's catalogue (``field_client.i18n``); ``say(key,
lang, **params)`` says an error's sentence; ``explain(error, lang)`` turns a ClientError into one
line. Names of types, fields and choice values come from the one vocabulary in sync/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from field_client.errors import (
    AmbiguousName,
    ClientError,
    NotFound,
    Refused,
    StoreError,
    ValidationError,
)
from field_client.i18n import N_, texts
from sync import choices, vocabulary

__all__ = [
    "ERRORS",
    "PHOTO_QUOTA",
    "STAGES",
    "explain",
    "field_name",
    "human_bytes",
    "label_of",
    "say",
    "section_name",
    "type_name",
]

# The sentence of each error a command can meet: ClientError keys, the server's refusals
# (``protocol.<code>``) and the local store's problems (``store_error.<kind>``).
ERRORS = {
    "error": N_("Something went wrong: %(detail)s"),
    "store_error.locked": N_(
        "The local database is locked by another program; try again shortly. No data was lost."
    ),
    "store_error.corrupt": N_(
        "The local database is damaged or not a Fieldsync database: %(path)s. Do not delete it; "
        "ask your administrator."
    ),
    "store_error.unusable": N_("Cannot open the local database: %(path)s (%(reason)s)"),
    "store_error.newer_schema": N_(
        "The local database was made by a newer Fieldsync; update this program first: %(path)s "
        "(%(reason)s)"
    ),
    "not_enrolled": N_(
        "This device is not enrolled yet. Run: fieldsync init --server URL --code CODE"
    ),
    "offline": N_(
        "Cannot reach the server %(server)s (offline). Everything stays queued; sync again later."
    ),
    "server_error": N_(
        "The server %(server)s failed or is not a Fieldsync server (%(detail)s). Your data is "
        "kept."
    ),
    "protocol.device_revoked": N_(
        "This device was revoked by the office and can no longer sync. All local data is kept; "
        "ask the office to enroll the device again."
    ),
    "protocol.device_wiped": N_(
        "The office revoked this device with wipe: its unsent changes and photos went to the "
        "office first, then every record, person and photo on it was deleted."
    ),
    "protocol.unauthorized": N_(
        "The server does not accept this device's credentials. Local data is kept; ask the "
        "office to enroll the device again."
    ),
    "protocol.unsupported_protocol": N_(
        "The server does not support this client's protocol version; upgrade Fieldsync. Data "
        "is kept."
    ),
    "protocol.clock_skew": N_(
        "This device's clock is too far ahead of the server (server time %(server_time)s). Fix "
        "the clock and sync again; pending edits will be re-stamped and sent."
    ),
    "protocol.invalid_code": N_("The enrollment code is invalid, used or expired: %(detail)s"),
    "protocol": N_("The server refused (%(code)s): %(detail)s"),
}
# The office's photo quota is full (the ``photo_quota`` of a sync report names which).
PHOTO_QUOTA = {
    "device": N_(
        "The office's room for this device's photos is full (%(size)s): %(n)s photos stay on "
        "this device while the records sync; please call the office."
    ),
    "workspace": N_(
        "The office's room for this workspace's photos is full (%(size)s): %(n)s photos stay "
        "on this device while the records sync; please call the office."
    ),
}
# The stages of a sync as the progress bar names them.
STAGES = {
    "restamp": N_("Re-stamping"),
    "blobs": N_("Uploading photos and files"),
    "push": N_("Sending"),
    "pull": N_("Receiving"),
    "conflicts": N_("Checking conflicts"),
    "done": N_("Done"),
}


def field_name(name: str, lang: str = "zh") -> str:
    """Return the display name of a field."""
    return vocabulary.field_label(lang, name)


def label_of(
    rtype: str, name: str, value: Any, lang: str = "zh", lists: Mapping[str, Any] | None = None
) -> str:
    """Return the display form of a choice value of field ``name`` of a ``rtype`` record;
    ``lists`` (id -> fields of the workspace's list entries) name its categories."""
    list_name = f"{rtype}.{name}"
    if lists and list_name in choices.FIELDS:
        for entry in choices.entries(list_name, lists):
            if entry.key == value:
                return choices.entry_label(lang, entry)
    return vocabulary.choice_label(lang, rtype, name, value)


def type_name(rtype: str, lang: str = "zh") -> str:
    """Return the display name of a record type."""
    if rtype == "record":
        return texts(lang).gettext("record")
    if rtype == "rejection":
        return texts(lang).gettext("rejected change")
    return vocabulary.type_label(lang, rtype)


def human_bytes(n: int) -> str:
    """A size for people: 2 GiB, 512 MiB."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} B"


def section_name(key: str, lang: str = "zh") -> str:
    """The heading of a record's related list in ``fieldsync show``."""
    if key == "open_concerns":
        return texts(lang).gettext("Open concerns")
    return vocabulary.type_label(lang, key.removesuffix("s"), many=True)


def say(key: str, lang: str = "zh", **params: Any) -> str:
    """The sentence of error ``key`` in ``lang`` ("zh" or "en"), filled in."""
    return texts(lang).gettext(ERRORS.get(key, ERRORS["error"]), **params)


def explain(error: ClientError, lang: str = "zh", **context: Any) -> str:
    """Return one line that says what went wrong and what to do."""
    params = {**context, **error.params, "detail": error.detail}
    if isinstance(error, StoreError):
        return say(f"store_error.{error.detail}", lang, **params)
    if isinstance(error, NotFound):
        params["type"] = _in_sentence(type_name(str(params.get("type", "record")), lang), lang)
        return texts(lang).gettext("No %(type)s found: %(id)s", **params)
    if isinstance(error, AmbiguousName):
        params["type"] = _in_sentence(type_name(str(params.get("type", "record")), lang), lang)
        params["candidates"] = "; ".join(f"{name} = {rid}" for rid, name in error.candidates)
        return texts(lang).gettext(
            "The name '%(name)s' matches several %(type)s records; use an id: %(candidates)s",
            **params,
        )
    if isinstance(error, ValidationError):
        text = "; ".join(
            f"{field_name(k, lang)}: {', '.join(fault_text(m, lang) for m in v)}"
            for k, v in error.errors.items()
        )
        return texts(lang).gettext("Invalid input: %(errors)s", errors=text)
    if isinstance(error, Refused):
        key = f"protocol.{error.code}"
        params["code"] = str(error.code)
        params.setdefault("server_time", error.body.get("server_time", ""))
        return say(key if key in ERRORS else "protocol", lang, **params)
    return say(error.key, lang, **params)


def fault_text(message: str, lang: str = "zh") -> str:
    """Return a rule's message in ``lang`` (a plain message stays as it is)."""
    return message.render(lang) if isinstance(message, vocabulary.Fault) else message


def _in_sentence(word: str, lang: str) -> str:
    """A name as it reads inside an English sentence (lower case); Chinese as it is."""
    return word.lower() if lang == "en" else word
