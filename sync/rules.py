"""Record rules that look beyond one field: shared by the server's push and the field client.

Each rule is a pure function over plain field dicts (no IO, no clock: the caller passes "now"):

- ``future_errors``: times and dates may not lie ahead of the writer's clock (plus an allowance).
- ``concern_people``: a concern raised in a visit names the visit and the people met in it.
- ``people_errors``: a concern's people are people met in its visit, ``party_id`` among them.
- ``voice_key`` / ``repeat_voice``: one further voice (附议) per known person and concern.
- ``same_person``: a person about to be created who is probably someone already recorded.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sync.records import DateTime, RecordType
from sync.vocabulary import Fault

__all__ = [
    "FIELD_ALLOWANCE_MS",
    "FUTURE_MESSAGE",
    "NOT_MET_MESSAGE",
    "PRIMARY_MESSAGE",
    "concern_people",
    "future_errors",
    "future_free",
    "people_errors",
    "phone_digits",
    "repeat_voice",
    "same_person",
    "voice_key",
]

FIELD_ALLOWANCE_MS = 5 * 60 * 1000  # a field device refuses times more than 5 minutes ahead
FUTURE_MESSAGE = Fault("in_future")
NOT_MET_MESSAGE = Fault("not_met")
PRIMARY_MESSAGE = Fault("not_among_people")
_LATEST_OFFSET = dt.timedelta(hours=14)  # the furthest-ahead time zone: its date is "today" too


def _after(value: str, limit_ms: int) -> bool:
    """Whether the time ``value`` (with an offset) falls in a millisecond after ``limit_ms``:
    compared as datetimes, cheaper than converting each value to a timestamp."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    if parsed.tzinfo is None:
        return False
    return parsed >= _EPOCH + dt.timedelta(milliseconds=limit_ms + 1)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def future_errors(
    record_type: RecordType,
    values: Mapping[str, Any],
    *,
    now_ms: int,
    allowance_ms: int,
    checked: bool = False,
) -> dict[str, list[str]]:
    """Name the time and date fields of ``values`` that lie ahead of ``now_ms + allowance_ms``.

    A time is compared as an instant; a date (which has no zone) only when it is after the
    date that instant has in the furthest-ahead zone (UTC+14), so no one's "today" is refused.
    Values that fail their own field rule are left to ``validate_fields``; ``checked`` says the
    caller passes only values that passed it, so they are not checked twice.
    """
    limit = now_ms + allowance_ms
    errors: dict[str, list[str]] = {}
    for name, rule in record_type.timed.items():
        value = values.get(name)
        if not isinstance(value, str) or (not checked and rule.check(value) is not None):
            continue
        past, latest = _dates_of(limit)
        if isinstance(rule, DateTime):
            # Fast and safe: a time whose own date is ``past`` or earlier lies before the limit
            # whatever its offset (offsets stay under a day), so only the others are parsed.
            if value[:10] > past and _after(value, limit):
                errors[name] = [FUTURE_MESSAGE]
        elif not rule.future_ok and value > latest:  # (a Date)
            errors[name] = [FUTURE_MESSAGE]  # (canonical dates sort as text as they do as dates)
    return errors


def future_free(
    record_type: RecordType,
    columns: Mapping[str, list[Any]],
    *,
    now_ms: int,
    allowance_ms: int,
) -> bool:
    """Whether ``future_errors`` finds nothing in any change whose values ``columns`` holds
    (field -> the values written to it, each passing its field's rule: ``checked_columns``),
    a column at a time: the latest of the column first (canonical dates, and the dates that
    begin canonical times, sort as text as they do in time), then, when that is recent, only
    the times of recent dates (``future_errors``'s own test).
    """
    limit = now_ms + allowance_ms
    past, latest = _dates_of(limit)
    for name, rule in record_type.timed.items():
        column = columns.get(name)
        if not column:
            continue
        if isinstance(rule, DateTime):
            if max(column)[:10] > past and any(
                _after(value, limit) for value in column if value[:10] > past
            ):
                return False
        elif not rule.future_ok and max(column) > latest:
            return False
    return True


@functools.lru_cache(maxsize=16)
def _dates_of(limit_ms: int) -> tuple[str, str]:
    """Return, as YYYY-MM-DD, the date two days before the UTC date of ``limit_ms`` (times of
    that date or earlier all lie before it) and the latest date allowed (its date at UTC+14).
    Cached: every change of a push has the same limit."""
    moment = dt.datetime.fromtimestamp(limit_ms / 1000, dt.UTC)
    past = (moment.date() - dt.timedelta(days=2)).isoformat()
    return past, (moment + _LATEST_OFFSET).date().isoformat()


def concern_people(
    visit_id: str, visit_party_ids: Sequence[str], chosen: Iterable[str] | None = None
) -> dict[str, Any]:
    """Return the link fields of a concern raised in a visit.

    The concern names the visit and the people met in it: those ``chosen`` (kept in the
    visit's order, people not met ignored), or all of them when nothing was chosen.
    ``party_id`` (反映人) is the first of them.
    """
    met = list(dict.fromkeys(visit_party_ids))
    picked = set(chosen or ())
    people = [p for p in met if p in picked] or met
    return {
        "visit_id": visit_id,
        "party_ids": people or None,
        "party_id": people[0] if people else None,
    }


def people_errors(
    concern: Mapping[str, Any], visit: Mapping[str, Any] | None
) -> dict[str, list[str]]:
    """Check a concern's people against each other and (when known) against its visit.

    ``concern`` holds the concern's fields after the write; ``visit`` the fields of the visit
    it names, or None when that visit is not known yet (a later batch may bring it).
    """
    errors: dict[str, list[str]] = {}
    people = concern.get("party_ids") or []
    primary = concern.get("party_id")
    if people and primary and primary not in people:
        errors["party_id"] = [PRIMARY_MESSAGE]
    if visit is not None and people:
        met = set(visit.get("party_ids") or [])
        if not set(people) <= met:
            errors["party_ids"] = [NOT_MET_MESSAGE]
    return errors


def voice_key(follow_up: Mapping[str, Any]) -> tuple[str, str] | None:
    """Return (concern, person) for a further voice (附议) of a known person, else None.

    Anonymous voices (no ``party_id``, say at a forum) have no key: each one counts.
    """
    if (
        follow_up.get("kind") != "support"
        or follow_up.get("subject_type") != "concern"
        or not follow_up.get("subject_id")
        or not follow_up.get("party_id")
    ):
        return None
    return str(follow_up["subject_id"]), str(follow_up["party_id"])


def repeat_voice(follow_up: Mapping[str, Any], voices: Iterable[Mapping[str, Any]]) -> bool:
    """Whether ``follow_up`` repeats the voice of a person already counted on that concern."""
    key = voice_key(follow_up)
    return key is not None and any(voice_key(v) == key for v in voices)


def phone_digits(phone: Any) -> str:
    """Return the ASCII digits of a phone number (spaces, dashes and +86 left aside)."""
    digits = "".join(c for c in str(phone or "") if c.isascii() and c.isdigit())
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def same_person(new: Mapping[str, Any], known: Mapping[str, Any]) -> bool:
    """Whether a person about to be created is probably ``known`` already.

    Either the same phone number (at least 7 digits), or the same name at the same place.
    """
    phone = phone_digits(new.get("phone"))
    if len(phone) >= 7 and phone == phone_digits(known.get("phone")):
        return True
    name = str(new.get("name") or "").strip().casefold()
    other = str(known.get("name") or "").strip().casefold()
    place = new.get("place_id")
    return bool(name) and name == other and bool(place) and place == known.get("place_id")
