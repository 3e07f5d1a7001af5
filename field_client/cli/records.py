"""Commands that record field work: places, parties, visits, concerns, projects, follow-ups.

Places and parties can be named instead of given by id where the name is unambiguous.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from field_client.cli.base import (
    App,
    choice,
    clean,
    json_option,
    main,
    now_iso,
    output,
    pass_app,
    ref,
    show_record,
    today,
)
from field_client.errors import ClientError
from sync.records import (
    CONCERN_STATUSES,
    GROUPS,
    PROJECT_STATUSES,
    VISIT_KINDS,
)

# -- places and parties ------------------------------------------------------------------------


@main.group()
def place() -> None:
    """Places: communities, compounds, business districts, buildings, shops.

    \b
    Example: fieldsync place add 百盛家园 --kind compound
    """


@place.command("add")
@click.argument("name")
@click.option("--kind", type=choice("place", "kind"), required=True, help="Place kind.")
@click.option("--parent", default=None, help="Parent place (name or id).")
@click.option("--address", default=None)
@click.option("--notes", default=None)
@click.option("--lat", type=float, default=None)
@click.option("--lon", type=float, default=None)
@pass_app
def place_add(app: App, name: str, kind: str, parent: str | None, **rest: Any) -> None:
    """Add a place and print its id.

    \b
    Example: fieldsync place add 百盛家园 --kind compound --parent 庄泉社区
    """
    fields = clean({"name": name, "kind": kind, "parent_id": ref(app, "place", parent), **rest})
    click.echo(app.store.create("place", fields))


@place.command("list")
@click.option("--kind", type=choice("place", "kind"), default=None)
@click.option("--parent", default=None, help="Only places inside this place (name or id).")
@json_option
@pass_app
def place_list(app: App, kind: str | None, parent: str | None, as_json: bool) -> None:
    """List places.

    \b
    Example: fieldsync place list --kind compound --json
    """
    records = app.store.list("place", kind=kind, place=ref(app, "place", parent))
    output(app, "place", records, ["name", "kind", "parent_id", "address"], as_json)


@place.command("show")
@click.argument("place_ref")
@json_option
@pass_app
def place_show(app: App, place_ref: str, as_json: bool) -> None:
    """Show a place and its open concerns.

    \b
    Example: fieldsync place show 百盛家园
    """
    record = app.store.find_place(place_ref)
    show_record(app, record, as_json, {"open_concerns": app.store.open_concerns(record["id"])})


@main.group()
def party() -> None:
    """Parties: residents, merchants, workers, organisations.

    \b
    Example: fieldsync party add 王阿姨 --kind resident --place 百盛家园
    """


@party.command("add")
@click.argument("name")
@click.option("--kind", type=choice("party", "kind"), required=True)
@click.option("--organisation", default=None)
@click.option("--phone", default=None)
@click.option("--place", "place_ref", default=None, help="Place (name or id).")
@click.option("--notes", default=None)
@pass_app
def party_add(app: App, name: str, kind: str, place_ref: str | None, **rest: Any) -> None:
    """Add a party and print its id.

    \b
    Example: fieldsync party add 李师傅 --kind worker --organisation 快递站
    """
    fields = clean({"name": name, "kind": kind, "place_id": ref(app, "place", place_ref), **rest})
    click.echo(app.store.create("party", fields))


@party.command("list")
@click.option("--place", "place_ref", default=None, help="Place (name or id).")
@click.option("--kind", type=choice("party", "kind"), default=None)
@json_option
@pass_app
def party_list(app: App, place_ref: str | None, kind: str | None, as_json: bool) -> None:
    """List parties.

    \b
    Example: fieldsync party list --place 百盛家园
    """
    records = app.store.list("party", place=ref(app, "place", place_ref), kind=kind)
    output(app, "party", records, ["name", "kind", "organisation", "place_id"], as_json)


# -- visits --------------------------------------------------------------------------------------


@main.group()
def visit() -> None:
    """Visits: home and shop visits, reception days, forums, calls.

    \b
    Example: fieldsync visit add --kind forum --title 快递小哥座谈会 --place 商务楼
    """


@visit.command("add")
@click.option("--kind", type=click.Choice(VISIT_KINDS), required=True)
@click.option("--title", default=None)
@click.option("--place", "place_ref", default=None, help="Place (name or id).")
@click.option("--started-at", default=None, help="ISO time with offset (default: now).")
@click.option("--ended-at", default=None)
@click.option("--attendees", "attendee_count", type=click.IntRange(0), default=None)
@click.option("--party", "parties", multiple=True, help="A party (name or id); repeatable.")
@click.option("--summary", default=None)
@pass_app
def visit_add(
    app: App, place_ref: str | None, started_at: str | None, parties: tuple[str, ...], **rest: Any
) -> None:
    """Record a visit and print its id.

    \b
    Example: fieldsync visit add --kind home_visit --place 百盛家园 --summary 了解污水管问题
    """
    fields = clean(
        {
            "place_id": ref(app, "place", place_ref),
            "started_at": started_at or now_iso(),
            "party_ids": [ref(app, "party", p) for p in parties] or None,
            **rest,
        }
    )
    click.echo(app.store.create("visit", fields))


@visit.command("list")
@click.option("--place", "place_ref", default=None, help="Place (name or id).")
@click.option("--kind", type=click.Choice(VISIT_KINDS), default=None)
@json_option
@pass_app
def visit_list(app: App, place_ref: str | None, kind: str | None, as_json: bool) -> None:
    """List visits, newest first.

    \b
    Example: fieldsync visit list --kind forum
    """
    records = app.store.list("visit", place=ref(app, "place", place_ref), kind=kind)
    output(app, "visit", records, ["kind", "title", "place_id", "started_at"], as_json)


@visit.command("show")
@click.argument("visit_ref")
@json_option
@pass_app
def visit_show(app: App, visit_ref: str, as_json: bool) -> None:
    """Show a visit and the concerns raised at it.

    \b
    Example: fieldsync visit show 0190f1c2-...
    """
    record = app.store.find("visit", visit_ref)
    concerns = app.store.list("concern", visit=record["id"])
    show_record(app, record, as_json, {"concerns": concerns})


# -- concerns ------------------------------------------------------------------------------------

CONCERN_EDIT_OPTIONS = [
    click.option("--description", default=None),
    click.option("--category", type=choice("concern", "category"), default=None),
    click.option("--status", type=click.Choice(CONCERN_STATUSES), default=None),
    click.option("--priority", type=choice("concern", "priority"), default=None),
    click.option("--place", "place_ref", default=None, help="Place (name or id)."),
    click.option("--visit", "visit_ref", default=None, help="Visit id."),
    click.option("--party", "party_ref", default=None, help="Party (name or id)."),
    click.option("--group", "raised_by_group", type=click.Choice(GROUPS), default=None),
    click.option("--project", "project_ref", default=None, help="Project (title or id)."),
    click.option("--responsible-unit", default=None),
    click.option("--resolution", default=None),
    click.option("--satisfaction", type=choice("concern", "satisfaction"), default=None),
    click.option("--raised-on", default=None, help="Date, e.g. 2024-05-31."),
    click.option("--resolved-on", default=None, help="Date, e.g. 2024-06-30."),
]


def concern_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(CONCERN_EDIT_OPTIONS):
        func = option(func)
    return func


def concern_fields(app: App, values: dict[str, Any]) -> dict[str, Any]:
    refs = {"place_ref": "place", "visit_ref": "visit", "party_ref": "party"}
    fields = {}
    for key, value in values.items():
        if key in refs:
            fields[f"{refs[key]}_id"] = ref(app, refs[key], value)
        elif key == "project_ref":
            fields["project_id"] = ref(app, "project", value)
        else:
            fields[key] = value
    return clean(fields)


@main.group()
def concern() -> None:
    """Concerns raised by residents, merchants and workers, and their casework.

    \b
    Example: fieldsync concern add --title 污水管道破裂 --place 百盛家园 --category infrastructure
    """


@concern.command("add")
@click.option("--title", required=True)
@concern_options
@pass_app
def concern_add(app: App, title: str, **values: Any) -> None:
    """Add a concern and print its id.

    \b
    Example: fieldsync concern add --title 没有物业 --place 百盛家园 --category property_management
    """
    fields = concern_fields(app, values)
    fields.setdefault("status", "new")
    fields.setdefault("raised_on", today())
    click.echo(app.store.create("concern", {"title": title, **fields}))


@concern.command("update")
@click.argument("concern_ref")
@click.option("--title", default=None)
@concern_options
@pass_app
def concern_update(app: App, concern_ref: str, **values: Any) -> None:
    """Change a concern (status, category, responsible unit, resolution, satisfaction...).

    \b
    Example: fieldsync concern update 0190f1c2-... --status referred --responsible-unit 城管局
    """
    record = app.store.find("concern", concern_ref)
    changed = app.store.update("concern", record["id"], concern_fields(app, values))
    click.echo(
        app.gettext("Updated: %(fields)s", fields=", ".join(changed))
        if changed
        else app.gettext("Nothing changed.")
    )


@concern.command("list")
@click.option("--place", "place_ref", default=None, help="Place (name or id).")
@click.option("--status", type=click.Choice(CONCERN_STATUSES), default=None)
@click.option("--category", type=choice("concern", "category"), default=None)
@click.option("--open", "only_open", is_flag=True, help="Only concerns still open.")
@json_option
@pass_app
def concern_list(
    app: App, place_ref: str | None, only_open: bool, as_json: bool, **kw: Any
) -> None:
    """List concerns, newest first.

    \b
    Example: fieldsync concern list --place 百盛家园 --open
    """
    place_id = ref(app, "place", place_ref)
    if only_open and place_id:
        records = app.store.open_concerns(place_id)
    else:
        records = app.store.list("concern", place=place_id, **kw)
        if only_open:
            from field_client.store import CLOSED_STATUSES

            records = [r for r in records if r["fields"].get("status") not in CLOSED_STATUSES]
    columns = ["title", "status", "category", "priority", "place_id", "responsible_unit"]
    output(app, "concern", records, columns, as_json)


@concern.command("show")
@click.argument("concern_ref")
@json_option
@pass_app
def concern_show(app: App, concern_ref: str, as_json: bool) -> None:
    """Show a concern with its follow-ups.

    \b
    Example: fieldsync concern show 0190f1c2-... --json
    """
    record = app.store.find("concern", concern_ref)
    follow_ups = app.store.list("follow_up", subject=record["id"])
    show_record(app, record, as_json, {"follow_ups": follow_ups})


# -- projects and follow-ups ---------------------------------------------------------------------


def project_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--description", default=None),
            click.option("--status", type=click.Choice(PROJECT_STATUSES), default=None),
            click.option("--place", "place_ref", default=None, help="Place (name or id)."),
            click.option("--started-on", default=None, help="Date, e.g. 2024-05-31."),
            click.option("--completed-on", default=None),
            click.option("--progress", type=click.IntRange(0, 100), default=None),
        ]
    ):
        func = option(func)
    return func


@main.group()
def project() -> None:
    """Livelihood projects (民生项目).

    \b
    Example: fieldsync project add --title 雨污分流改造 --place 百盛家园 --status approved
    """


@project.command("add")
@click.option("--title", required=True)
@project_options
@pass_app
def project_add(app: App, title: str, place_ref: str | None, **values: Any) -> None:
    """Add a project and print its id.

    \b
    Example: fieldsync project add --title 暑期托管班 --status proposed
    """
    fields = clean({"title": title, "place_id": ref(app, "place", place_ref), **values})
    fields.setdefault("status", "proposed")
    click.echo(app.store.create("project", fields))


@project.command("update")
@click.argument("project_ref")
@click.option("--title", default=None)
@project_options
@pass_app
def project_update(app: App, project_ref: str, place_ref: str | None, **values: Any) -> None:
    """Change a project.

    \b
    Example: fieldsync project update 雨污分流改造 --status completed --progress 100
    """
    record = app.store.find("project", project_ref)
    fields = clean({"place_id": ref(app, "place", place_ref), **values})
    changed = app.store.update("project", record["id"], fields)
    click.echo(
        app.gettext("Updated: %(fields)s", fields=", ".join(changed))
        if changed
        else app.gettext("Nothing changed.")
    )


@project.command("list")
@click.option("--status", type=click.Choice(PROJECT_STATUSES), default=None)
@click.option("--place", "place_ref", default=None, help="Place (name or id).")
@json_option
@pass_app
def project_list(app: App, status: str | None, place_ref: str | None, as_json: bool) -> None:
    """List projects.

    \b
    Example: fieldsync project list --status in_progress
    """
    records = app.store.list("project", status=status, place=ref(app, "place", place_ref))
    output(app, "project", records, ["title", "status", "progress", "place_id"], as_json)


@main.group("follow-up")
def follow_up() -> None:
    """Follow-ups of a concern, project or visit (notes, calls, return visits, 附议).

    \b
    Example: fieldsync follow-up add --subject 0190f1c2-... --kind return_visit --note 已回访
    """


@follow_up.command("add")
@click.option("--subject", required=True, help="Id (or title) of the concern/project/visit.")
@click.option("--kind", type=choice("follow_up", "kind"), required=True)
@click.option("--group", type=click.Choice(GROUPS), default=None)
@click.option("--note", default=None)
@click.option("--at", "happened_at", default=None, help="ISO time with offset (default: now).")
@pass_app
def follow_up_add(app: App, subject: str, kind: str, **values: Any) -> None:
    """Add a follow-up and print its id.

    \b
    Example: fieldsync follow-up add --subject 没有物业 --kind support --group resident
    """
    record = find_subject(app, subject)
    fields = clean(
        {
            "subject_type": record["type"],
            "subject_id": record["id"],
            "kind": kind,
            **values,
        }
    )
    fields.setdefault("happened_at", now_iso())
    click.echo(app.store.create("follow_up", fields))


def find_subject(app: App, subject: str) -> dict[str, Any]:
    """Find the concern, project or visit a follow-up is about (by id, then by title)."""
    record = app.store.get(None, subject)
    if record is not None and record["type"] in ("concern", "project", "visit"):
        return record
    last: ClientError | None = None
    for rtype in ("concern", "project", "visit"):
        try:
            return app.store.find(rtype, subject)
        except ClientError as exc:
            last = exc
    assert last is not None
    raise last
