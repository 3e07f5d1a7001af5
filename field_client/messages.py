"""What the field client says to people, in Simplified Chinese (default) and English.

``say(key, lang, **params)`` formats one message; ``explain(error, lang)`` turns a ClientError
into one line. ``LABELS`` gives Chinese names of the protocol's enum values for tables.
"""

from __future__ import annotations

from typing import Any

from field_client.errors import (
    AmbiguousName,
    ClientError,
    NotFound,
    ProtocolError,
    StoreError,
    ValidationError,
)

__all__ = ["LABELS", "explain", "field_name", "label_of", "say", "type_name"]

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
    "not_enrolled": (
        "本设备尚未登记。请先运行：fieldsync init --server 地址 --code 登记码",
        "This device is not enrolled yet. Run: fieldsync init --server URL --code CODE",
    ),
    "already_enrolled": (
        "本设备已登记到 {server}（设备 {device_id}）。如需重新登记，请使用新的目录 --home。",
        "This device is already enrolled with {server} (device {device_id}). Use another --home "
        "to enroll again.",
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
        "同步完成：发送 {sent} 条，接收 {received} 条，冲突 {conflicts} 个，被拒 {rejected} 条。",
        "Sync done: sent {sent}, received {received}, conflicts {conflicts}, rejected {rejected}.",
    ),
    "sync.offline": (
        "离线：无法连接服务器，{pending} 条修改已保留，联网后再同步。",
        "Offline: cannot reach the server; {pending} changes stay queued for the next sync.",
    ),
    "sync.conflicts_hint": (
        "有冲突的内容已交给办公室处理。",
        "Conflicting edits were handed to the office to resolve.",
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
}

TYPE_NAMES = {
    "place": ("地点", "place"),
    "party": ("群众/单位", "party"),
    "visit": ("走访", "visit"),
    "concern": ("诉求", "concern"),
    "project": ("项目", "project"),
    "follow_up": ("跟进", "follow-up"),
    "attachment": ("附件", "attachment"),
    "record": ("记录", "record"),
    "rejection": ("被拒修改", "rejected change"),
}

FIELD_NAMES_ZH = {
    "name": "名称",
    "kind": "类型",
    "title": "标题",
    "status": "状态",
    "category": "类别",
    "priority": "优先级",
    "place_id": "地点",
    "parent_id": "上级地点",
    "address": "地址",
    "organisation": "单位",
    "phone": "电话",
    "started_at": "时间",
    "ended_at": "结束时间",
    "progress": "进度",
    "responsible_unit": "责任单位",
    "resolution": "办理结果",
    "satisfaction": "满意度",
    "description": "描述",
    "summary": "摘要",
    "attendee_count": "人数",
    "notes": "备注",
    "note": "内容",
    "raised_on": "提出日期",
    "resolved_on": "办结日期",
    "raised_by_group": "群体",
    "review_status": "审核",
    "review_note": "审核意见",
}


def field_name(name: str, lang: str = "zh") -> str:
    """Return the display name of a field."""
    return name if lang == "en" else FIELD_NAMES_ZH.get(name, name)


LABELS: dict[str, str] = {
    # concern status (PROTOCOL.md section 4)
    "new": "待核实",
    "accepted": "已受理",
    "referred": "已转办",
    "in_progress": "办理中",
    "resolved": "已办结",
    "confirmed": "已回访",
    "duplicate": "重复",
    "rejected": "不予受理",
    "deferred": "暂缓",
    # categories
    "infrastructure": "基础设施",
    "environment": "环境",
    "property_management": "物业管理",
    "safety": "安全",
    "business": "经营",
    "employment": "就业",
    "social_services": "社会服务",
    "other": "其他",
    # priority
    "low": "低",
    "normal": "普通",
    "high": "高",
    "urgent": "紧急",
    # place kinds
    "community": "社区",
    "compound": "小区",
    "business_district": "商圈",
    "building": "楼宇",
    "shop": "商铺",
    # visit kinds
    "home_visit": "入户走访",
    "shop_visit": "走访商户",
    "reception": "接待日",
    "forum": "座谈会",
    "phone": "电话",
    # party kinds / groups
    "resident": "居民",
    "merchant": "商户",
    "worker": "新就业群体",
    "organisation": "单位",
    # project status
    "proposed": "提出",
    "approved": "已批准",
    "completed": "已完成",
    "cancelled": "已取消",
    # satisfaction
    "satisfied": "满意",
    "partly_satisfied": "基本满意",
    "unsatisfied": "不满意",
    # follow-up kinds
    "note": "备注",
    "call": "电话",
    "return_visit": "回访",
    "referral": "转办",
    "support": "附议",
}


def say(key: str, lang: str = "zh", **params: Any) -> str:
    """Format message ``key`` in ``lang`` ("zh" or "en")."""
    zh, en = MESSAGES.get(key, MESSAGES["error"])
    template = en if lang == "en" else zh
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


def label_of(value: Any, lang: str = "zh") -> str:
    """Return the display form of an enum value (Chinese label, or the value in English)."""
    if value is None:
        return ""
    if lang == "en" or not isinstance(value, str):
        return str(value)
    return LABELS.get(value, value)


def type_name(rtype: str, lang: str = "zh") -> str:
    """Return the display name of a record type."""
    zh, en = TYPE_NAMES.get(rtype, (rtype, rtype))
    return en if lang == "en" else zh


def explain(error: ClientError, lang: str = "zh", **context: Any) -> str:
    """Return one line that says what went wrong and what to do."""
    params = {**context, **error.params, "detail": error.detail}
    if isinstance(error, StoreError):
        return say(f"store_error.{error.detail}", lang, **params)
    if isinstance(error, NotFound):
        params["type"] = type_name(str(params.get("type", "record")), lang)
        return say("not_found", lang, **params)
    if isinstance(error, AmbiguousName):
        params["type"] = type_name(str(params.get("type", "record")), lang)
        params["candidates"] = "; ".join(f"{name} = {rid}" for rid, name in error.candidates)
        return say("ambiguous_name", lang, **params)
    if isinstance(error, ValidationError):
        text = "; ".join(f"{k}: {', '.join(v)}" for k, v in error.errors.items())
        return say("invalid_fields", lang, errors=text)
    if isinstance(error, ProtocolError):
        key = f"protocol.{error.code}"
        params["code"] = str(error.code)
        params.setdefault("server_time", error.body.get("server_time", ""))
        return say(key if key in MESSAGES else "protocol", lang, **params)
    return say(error.key, lang, **params)
