"""What the field client says to people, in Simplified Chinese (default) and English.

``say(key, lang, **params)`` formats one message; ``explain(error, lang)`` turns a ClientError
into one line. Names of types, fields and choice values come from the one vocabulary in sync/.
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
from sync import choices, vocabulary

__all__ = ["explain", "field_name", "label_of", "say", "type_name"]

MESSAGES: dict[str, tuple[str, str]] = {
    "error": ("出错了：{detail}", "Something went wrong: {detail}"),
    "store_error.locked": (
        "本机数据库正被另一个程序占用（已锁定），请稍后再试；数据没有丢失。",
        "The local database is locked by another program; try again shortly. No data was lost.",
    ),
    "store_error.corrupt": (
        "本机数据库文件已损坏或不是 Fieldsync 数据库：{path}。请勿删除，联系管理员恢复。",
        "The local database is damaged or not a Fieldsync database: {path}. Do not delete it; "
        "ask your administrator.",
    ),
    "store_error.unusable": (
        "无法打开本机数据库：{path}（{reason}）",
        "Cannot open the local database: {path} ({reason})",
    ),
    "store_error.newer_schema": (
        "本机数据库由更新版本的 Fieldsync 创建，请先升级本程序：{path}（{reason}）",
        "The local database was made by a newer Fieldsync; update this program first: {path} "
        "({reason})",
    ),
    "not_enrolled": (
        "本设备尚未登记。请先运行：fieldsync init --server 地址 --code 登记码",
        "This device is not enrolled yet. Run: fieldsync init --server URL --code CODE",
    ),
    "other_workspace": (
        "这个登记码属于另一个工作区；本机的记录不会带过去。"
        "请向原工作区要登记码，或使用新的目录 --home。",
        "This code is for another workspace; this device's records do not move there. Ask the "
        "original workspace for a code, or use another --home.",
    ),
    "not_found": ("找不到{type}：{id}", "No {type} found: {id}"),
    "ambiguous_name": (
        "名称“{name}”对应多个{type}，请改用编号：{candidates}",
        "The name '{name}' matches several {type} records; use an id: {candidates}",
    ),
    "invalid_fields": ("输入有误：{errors}", "Invalid input: {errors}"),
    "offline": (
        "无法连接服务器 {server}（离线）。所有修改已保留，联网后再同步。",
        "Cannot reach the server {server} (offline). Everything stays queued; sync again later.",
    ),
    "server_error": (
        "服务器 {server} 出错或不是 Fieldsync 服务器（{detail}）。数据已保留在本机。",
        "The server {server} failed or is not a Fieldsync server ({detail}). Your data is kept.",
    ),
    "protocol.device_revoked": (
        "本设备已被办公室停用，无法再同步。本机数据全部保留；请联系办公室重新登记设备。",
        "This device was revoked by the office and can no longer sync. All local data is kept; "
        "ask the office to enroll the device again.",
    ),
    "protocol.device_wiped": (
        "办公室已停用本设备并要求清除：本机未发送的修改和照片已先发送到办公室，随后已删除本机上的"
        "全部记录、人员和照片。",
        "The office revoked this device with wipe: its unsent changes and photos went to the "
        "office first, then every record, person and photo on it was deleted.",
    ),
    "protocol.unauthorized": (
        "服务器不认可本设备的凭证。本机数据全部保留；请联系办公室重新登记设备。",
        "The server does not accept this device's credentials. Local data is kept; ask the "
        "office to enroll the device again.",
    ),
    "protocol.unsupported_protocol": (
        "服务器不支持本客户端的协议版本，请升级 Fieldsync。数据已保留。",
        "The server does not support this client's protocol version; upgrade Fieldsync. Data "
        "is kept.",
    ),
    "protocol.clock_skew": (
        "本机时钟比服务器快太多（服务器时间 {server_time}）。请校准本机时间后再同步，"
        "待同步的修改会重新打时间戳后发送。",
        "This device's clock is too far ahead of the server (server time {server_time}). Fix "
        "the clock and sync again; pending edits will be re-stamped and sent.",
    ),
    "protocol.invalid_code": (
        "登记码无效、已使用或已过期：{detail}",
        "The enrollment code is invalid, used or expired: {detail}",
    ),
    "protocol": ("服务器拒绝了请求（{code}）：{detail}", "The server refused ({code}): {detail}"),
    "enrolled": (
        "登记成功：设备 {device_id}，用户 {user}，工作区 {workspace}。",
        "Enrolled: device {device_id}, user {user}, workspace {workspace}.",
    ),
    "sync.summary": (
        "同步完成：发送 {sent} 条，收到 {new} 条新记录，冲突 {conflicts} 个，被拒 {rejected} 条。",
        "Sync done: sent {sent}, received {new} new, conflicts {conflicts}, rejected {rejected}.",
    ),
    "sync.offline": (
        "离线：无法连接服务器，{pending} 条修改已保留，联网后再同步。",
        "Offline: cannot reach the server; {pending} changes stay queued for the next sync.",
    ),
    "sync.conflicts_hint": (
        "有冲突的内容已交给办公室处理。",
        "Conflicting edits were handed to the office to resolve.",
    ),
    "sync.photo_quota.device": (
        "办公室为本设备保存照片的空间已满（限额 {size}），{n} 张照片仍留在本机，记录照常同步；"
        "请联系办公室。",
        "The office's room for this device's photos is full ({size}): {n} photos stay on this "
        "device while the records sync; please call the office.",
    ),
    "sync.photo_quota.workspace": (
        "办公室为本工作区保存照片的空间已满（限额 {size}），{n} 张照片仍留在本机，记录照常同步；"
        "请联系办公室。",
        "The office's room for this workspace's photos is full ({size}): {n} photos stay on "
        "this device while the records sync; please call the office.",
    ),
    "sync.rejected_hint": (
        "有被拒的修改，请运行 fieldsync rejected 查看并修正。",
        "Some edits were rejected; run fieldsync rejected to see and fix them.",
    ),
    "stage.restamp": ("重新打时间戳", "Re-stamping"),
    "stage.blobs": ("上传照片和文件", "Uploading photos and files"),
    "stage.push": ("发送", "Sending"),
    "stage.pull": ("接收", "Receiving"),
    "stage.conflicts": ("核对冲突", "Checking conflicts"),
    "stage.done": ("完成", "Done"),
    "status.server": ("服务器", "Server"),
    "status.device": ("设备", "Device"),
    "status.user": ("用户", "User"),
    "status.last_sync": ("上次同步", "Last sync"),
    "status.never": ("从未同步", "never"),
    "status.pending": ("待同步", "Pending"),
    "status.conflicts": ("冲突", "Conflicts"),
    "status.rejected": ("被拒", "Rejected"),
    "none": ("（无）", "(none)"),
    "section.open_concerns": ("未办结的诉求", "Open concerns"),
    "section.follow_ups": ("跟进", "Follow-ups"),
    "section.concerns": ("诉求", "Concerns"),
    "deleted": ("已删除", "deleted"),
    "updated": ("已更新：{fields}", "Updated: {fields}"),
    "unchanged": ("没有变化。", "Nothing changed."),
    "fixed": ("已修正，将在下次同步时发送。", "Fixed; it will be sent at the next sync."),
    "bad_value": ("参数错误：{detail}", "Bad option value: {detail}"),
    "bad_server": ("服务器地址无效：{server}", "Invalid server address: {server}"),
    "serve.missing": ("本地网页界面尚未安装。", "The local web interface is not installed."),
    "type.record": ("记录", "record"),
    "type.rejection": ("被拒修改", "rejected change"),
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
    if rtype in ("record", "rejection"):
        return say(f"type.{rtype}", lang)
    return vocabulary.type_label(lang, rtype)


def human_bytes(n: int) -> str:
    """A size for people: 2 GiB, 512 MiB."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} B"


def say(key: str, lang: str = "zh", **params: Any) -> str:
    """Format message ``key`` in ``lang`` ("zh" or "en")."""
    zh, en = MESSAGES.get(key, MESSAGES["error"])
    template = en if lang == "en" else zh
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


def explain(error: ClientError, lang: str = "zh", **context: Any) -> str:
    """Return one line that says what went wrong and what to do."""
    params = {**context, **error.params, "detail": error.detail}
    if isinstance(error, StoreError):
        return say(f"store_error.{error.detail}", lang, **params)
    if isinstance(error, NotFound):
        params["type"] = _in_sentence(type_name(str(params.get("type", "record")), lang), lang)
        return say("not_found", lang, **params)
    if isinstance(error, AmbiguousName):
        params["type"] = _in_sentence(type_name(str(params.get("type", "record")), lang), lang)
        params["candidates"] = "; ".join(f"{name} = {rid}" for rid, name in error.candidates)
        return say("ambiguous_name", lang, **params)
    if isinstance(error, ValidationError):
        text = "; ".join(
            f"{field_name(k, lang)}: {', '.join(fault_text(m, lang) for m in v)}"
            for k, v in error.errors.items()
        )
        return say("invalid_fields", lang, errors=text)
    if isinstance(error, Refused):
        key = f"protocol.{error.code}"
        params["code"] = str(error.code)
        params.setdefault("server_time", error.body.get("server_time", ""))
        return say(key if key in MESSAGES else "protocol", lang, **params)
    return say(error.key, lang, **params)


def fault_text(message: str, lang: str = "zh") -> str:
    """Return a rule's message in ``lang`` (a plain message stays as it is)."""
    return message.render(lang) if isinstance(message, vocabulary.Fault) else message


def _in_sentence(word: str, lang: str) -> str:
    """A name as it reads inside an English sentence (lower case); Chinese as it is."""
    return word.lower() if lang == "en" else word
