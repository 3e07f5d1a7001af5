"""What the demo says, in Simplified Chinese (default) and English."""

from __future__ import annotations

from typing import Any

from sync import vocabulary

__all__ = [
    "MESSAGES",
    "choice_text",
    "count_list",
    "field_name",
    "say",
    "stage_name",
    "type_name",
    "value_text",
]

MESSAGES: dict[str, tuple[str, str]] = {
    "title": ("Fieldsync 演示 · {workspace}", "Fieldsync demo · {workspace}"),
    "workdir": ("数据目录：{path}", "Data folder: {path}"),
    "workdir_temp": (
        "数据目录：{path}（临时，演示结束后删除）",
        "Data folder: {path} (temporary, removed when the demo ends)",
    ),
    "step_setup": ("办公室准备", "The office sets up"),
    "schema": ("数据库已建好：{url}", "Database created: {url}"),
    "workspace": (
        "工作区「{name}」，用户 {count} 个：{names}",
        'Workspace "{name}", {count} users: {names}',
    ),
    "office_created": ("办公室录入：{counts}", "Entered at the office: {counts}"),
    "server_up": ("办公室服务器已启动：{url}", "Office server running at {url}"),
    "step_enroll": ("两台设备通过 HTTP 登记", "Two devices enroll over HTTP"),
    "code": ("为{user}生成登记码 {code}", "Enrollment code for {user}: {code}"),
    "enrolled": ("{device}：{message}", "{device}: {message}"),
    "step_field": ("代表在现场离线记录", "Representatives record in the field, offline"),
    "recorded": (
        "{device}：{counts}；待同步 {pending} 条记录",
        "{device}: {counts}; {pending} records waiting to sync",
    ),
    "step_sync_field": (
        "设备同步，现场记录送达办公室",
        "Devices sync: field work reaches the office",
    ),
    "step_office": (
        "办公室办理（每一步都有时间戳和审计记录）",
        "The office works the cases (every step stamped and audited)",
    ),
    "office_steps": (
        "{type}：{steps} 步办理，涉及 {records} 条",
        "{type}: {steps} steps on {records} records",
    ),
    "office_by": ("办理人：{name}", "Done by: {name}"),
    "step_sync_back": (
        "设备再次同步，收到办公室的办理结果",
        "Devices sync again and receive the office's work",
    ),
    "step_offline": (
        "两台设备离线修改了同一条问题",
        "Both devices edit the same concern while offline",
    ),
    "offline_edit": (
        "{device}：「{title}」的{field}改为 {value}",
        '{device}: "{title}", {field} -> {value}',
    ),
    "conflict": (
        "冲突：「{title}」的{field}，服务器保留 {kept}（{kept_by}），"
        "{other}（{other_by}）等待办公室决定",
        'Conflict on "{title}", {field}: the server keeps {kept} ({kept_by}); '
        "{other} ({other_by}) waits for the office",
    ),
    "the_office": ("办公室", "the office"),
    "step_sync_conflict": (
        "同步：服务器保留一个值，冲突交给办公室",
        "Sync: the server keeps one value, the office gets a conflict",
    ),
    "sync_line": (
        "⇅ {device}：发送 {sent}，接收 {received}，冲突 {conflicts}，被拒 {rejected}",
        "⇅ {device}: sent {sent}, received {received}, conflicts {conflicts}, rejected {rejected}",
    ),
    "sync_failed": ("⇅ {device}：同步失败：{message}", "⇅ {device}: sync failed: {message}"),
    "converged": (
        "✓ 两台设备与服务器一致（{counts}）",
        "✓ Both devices hold exactly what the server holds ({counts})",
    ),
    "diverged": (
        "✗ {device} 有 {count} 条记录与服务器不一致",
        "✗ {device}: {count} records differ from the server",
    ),
    "step_report": (
        "办公室报告（{since} 至 {until}）",
        "The office's report ({since} to {until})",
    ),
    "report_concerns": (
        "问题：收集 {collected} 条，已解决 {resolved} 条（解决率 {rate}）",
        "Concerns: {collected} collected, {resolved} resolved (rate {rate})",
    ),
    "report_satisfaction": (
        "回访满意度：{rate}（{rated} 条有评价）",
        "Satisfaction on return visits: {rate} ({rated} rated)",
    ),
    "report_rates": (
        "三率：办结率 {resolved}，回访率 {visited}，满意率 {satisfied}",
        "Three rates: resolved {resolved}, return-visited {visited}, satisfied {satisfied}",
    ),
    "report_overdue": (
        "在办 {open} 条，其中超期 {overdue} 条",
        "{open} open, {overdue} of them overdue",
    ),
    "report_median": ("办结用时中位数：{days} 天", "Median time to resolve: {days} days"),
    "report_projects": (
        "民生实事项目：{total} 个，已完成 {completed} 个",
        "Livelihood projects: {total}, {completed} completed",
    ),
    "report_sessions": (
        "接待、座谈活动：{sessions} 场（接待 {reception}，座谈 {forum}）",
        "Reception and forum sessions: {sessions} ({reception} reception, {forum} forum)",
    ),
    "project_line": ("{mark} {title}（{status}{dates}）", "{mark} {title} ({status}{dates})"),
    "session_line": (
        "{day} {title} · {place} · {count} 人",
        "{day} {title} · {place} · {count} people",
    ),
    "report_visits": ("走访总数：{total} 次", "Visits in all: {total}"),
    "report_conflicts": (
        "待办公室处理的冲突：{count} 条",
        "Conflicts waiting for the office: {count}",
    ),
    "quote": ("文章原文：“{quote}”", "The article (in Chinese): “{quote}”"),
    "ready": ("演示已就绪", "The demo is ready"),
    "office_url": ("办公室网页：{url}", "Office pages: {url}"),
    "field_app_url": (
        "现场应用（平板、手机，可离线）：{url}",
        "Field app (tablets and phones, works offline): {url}",
    ),
    "dashboard": ("{since} 以来的看板：{url}", "Dashboard since {since}: {url}"),
    "login": (
        "演示登录：用户名 {username}  密码 {password}",
        "Demo login: username {username}  password {password}",
    ),
    "admin_login": (
        "管理员登录：用户名 {username}  密码 {password}",
        "Administrator login: username {username}  password {password}",
    ),
    "not_served": (
        "（--no-serve：演示已结束，没有服务在运行，所以不列出网址；"
        "去掉 --no-serve 即可打开网页。）",
        "(--no-serve: the demo has ended and nothing is serving, so no addresses are shown;"
        " run without --no-serve to open the pages.)",
    ),
    "field_url": ("{device}的现场界面：{url}", "Field UI of {device}: {url}"),
    "field_ui_missing": ("（现场界面不可用：{reason}）", "(field UI not available: {reason})"),
    "try_it": (
        "试试看：登录后打开“冲突”处理那条等待审核的冲突，再在现场界面点“同步”。",
        "Try it: log in, open Conflicts and settle the waiting one, "
        "then press Sync in the field UI.",
    ),
    "serving": ("按 Ctrl-C 结束演示。", "Press Ctrl-C to end the demo."),
    "port_in_use": (
        "端口 {port} 已被其他程序占用：换一个 --port，或用 --port 0 自动选择。",
        "Port {port} is taken by another program: choose another --port, or --port 0.",
    ),
    "failed": ("演示中断：{detail}", "The demo stopped: {detail}"),
    "stopped": ("演示已结束。", "The demo has ended."),
    "kept": ("数据保留在 {path}", "The data stays in {path}"),
    "elapsed": ("（用时 {seconds:.1f} 秒）", " (took {seconds:.1f} s)"),
}

STAGE_NAMES: dict[str, tuple[str, str]] = {
    "blobs": ("上传附件", "blobs"),
    "push": ("推送", "push"),
    "pull": ("拉取", "pull"),
    "device": ("核对", "check"),
    "conflicts": ("冲突", "conflicts"),
}


def say(lang: str, key: str, **params: Any) -> str:
    """Return one message in ``lang`` (zh or en) with its parameters filled in."""
    zh, en = MESSAGES[key]
    return (en if lang == "en" else zh).format(**params)


def type_name(lang: str, record_type: str) -> str:
    """Return the people's word for a record type, as counted (the vocabulary's plural)."""
    label = vocabulary.type_label(lang, record_type, many=True)
    return label.lower() if lang == "en" else label


def field_name(lang: str, name: str) -> str:
    """Return the people's word for a record field."""
    return vocabulary.field_label(lang, name)


def value_text(lang: str, value: object, record_type: str = "", field: str = "") -> str:
    """Return a field value as people read it: choices by their names, text quoted."""
    if isinstance(value, str):
        return f"“{choice_text(lang, record_type, field, value)}”"
    return str(value)


def choice_text(lang: str, record_type: str, field: str, value: str) -> str:
    """Return a choice value as people read it (unquoted)."""
    return vocabulary.choice_label(lang, record_type, field, value)


def stage_name(lang: str, stage: str) -> str:
    """Return the people's word for a sync stage (the stage itself when unknown)."""
    zh, en = STAGE_NAMES.get(stage, (stage, stage))
    return en if lang == "en" else zh


def count_list(lang: str, counts: dict[str, int]) -> str:
    """Return "地点 6、项目 3" / "6 places, 3 projects" for type -> count."""
    if lang == "en":
        return ", ".join(f"{n} {type_name(lang, t)}" for t, n in counts.items())
    return "、".join(f"{type_name(lang, t)} {n}" for t, n in counts.items())
