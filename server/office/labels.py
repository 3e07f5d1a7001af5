"""Translated labels of record types, fields and their choices (msgids in English)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

TYPE_LABELS = {
    "place": _l("Place"),
    "party": _l("Person or organisation"),
    "visit": _l("Visit"),
    "concern": _l("Concern"),
    "project": _l("Project"),
    "follow_up": _l("Follow-up"),
    "attachment": _l("Attachment"),
}
TYPE_PLURALS = {
    "place": _l("Places"),
    "party": _l("People"),
    "visit": _l("Visits"),
    "concern": _l("Concerns"),
    "project": _l("Projects"),
}

FIELD_LABELS = {
    "title": _l("Title"),
    "name": _l("Name"),
    "kind": _l("Kind"),
    "description": _l("Description"),
    "category": _l("Category"),
    "status": _l("Status"),
    "priority": _l("Priority"),
    "place_id": _l("Place"),
    "parent_id": _l("Part of"),
    "visit_id": _l("Visit"),
    "party_id": _l("Raised by"),
    "party_ids": _l("People met"),
    "project_id": _l("Project"),
    "duplicate_of": _l("Duplicate of"),
    "raised_by_group": _l("Group"),
    "responsible_unit": _l("Responsible unit"),
    "raised_on": _l("Raised on"),
    "resolved_on": _l("Resolved on"),
    "resolution": _l("Resolution"),
    "satisfaction": _l("Satisfaction"),
    "review_status": _l("Review"),
    "review_note": _l("Review note"),
    "address": _l("Address"),
    "notes": _l("Notes"),
    "lat": _l("Latitude"),
    "lon": _l("Longitude"),
    "organisation": _l("Organisation"),
    "phone": _l("Phone"),
    "started_at": _l("Started at"),
    "ended_at": _l("Ended at"),
    "attendee_count": _l("Attendees"),
    "summary": _l("Summary"),
    "started_on": _l("Started on"),
    "completed_on": _l("Completed on"),
    "progress": _l("Progress (%)"),
    "subject_type": _l("About"),
    "subject_id": _l("Subject"),
    "group": _l("Group"),
    "note": _l("Note"),
    "happened_at": _l("When"),
    "_deleted": _l("Deleted"),
}

_GROUPS = {
    "resident": _l("Residents"),
    "merchant": _l("Merchants"),
    "worker": _l("New-economy workers"),
    "other": _l("Other"),
}

CHOICE_LABELS: dict[str, dict[str, Any]] = {
    "status": {
        "new": _l("To verify"),
        "accepted": _l("Accepted"),
        "referred": _l("Referred"),
        "in_progress": _l("In progress"),
        "resolved": _l("Resolved"),
        "confirmed": _l("Confirmed by return visit"),
        "duplicate": _l("Duplicate"),
        "rejected": _l("Not accepted"),
        "deferred": _l("Deferred"),
        "proposed": _l("Proposed"),
        "approved": _l("Approved"),
        "completed": _l("Completed"),
        "cancelled": _l("Cancelled"),
    },
    "category": {
        "infrastructure": _l("Infrastructure"),
        "environment": _l("Environment"),
        "property_management": _l("Property management"),
        "safety": _l("Safety"),
        "business": _l("Business"),
        "employment": _l("Employment"),
        "social_services": _l("Social services"),
        "other": _l("Other"),
    },
    "priority": {
        "low": _l("Low"),
        "normal": _l("Normal"),
        "high": _l("High"),
        "urgent": _l("Urgent"),
    },
    "raised_by_group": _GROUPS,
    "group": _GROUPS,
    "satisfaction": {
        "satisfied": _l("Satisfied"),
        "partly_satisfied": _l("Partly satisfied"),
        "unsatisfied": _l("Unsatisfied"),
    },
    "review_status": {
        "pending": _l("Awaiting review"),
        "approved": _l("Approved"),
        "needs_changes": _l("Needs changes"),
    },
    "subject_type": TYPE_LABELS,
}

KIND_LABELS: dict[str, dict[str, Any]] = {
    "place": {
        "community": _l("Community"),
        "compound": _l("Residential compound"),
        "business_district": _l("Business district"),
        "building": _l("Building"),
        "shop": _l("Shop"),
        "other": _l("Other"),
    },
    "party": {
        "resident": _l("Resident"),
        "merchant": _l("Merchant"),
        "worker": _l("New-economy worker"),
        "organisation": _l("Organisation"),
        "other": _l("Other"),
    },
    "visit": {
        "home_visit": _l("Home visit"),
        "shop_visit": _l("Shop visit"),
        "reception": _l("Reception day"),
        "forum": _l("Forum"),
        "phone": _l("Phone call"),
        "other": _l("Other"),
    },
    "follow_up": {
        "note": _l("Note"),
        "call": _l("Call"),
        "return_visit": _l("Return visit"),
        "referral": _l("Referral"),
        "support": _l("Further voice"),
    },
}


def choice_label(record_type: str, field: str, value: Any) -> str:
    """The translated label of a choice value (the value itself when unknown)."""
    if value is None or value == "":
        return ""
    table = KIND_LABELS.get(record_type, {}) if field == "kind" else CHOICE_LABELS.get(field, {})
    label = table.get(value)
    return str(label) if label is not None else str(value)


def field_label(field: str) -> str:
    label = FIELD_LABELS.get(field)
    return str(label) if label is not None else field
