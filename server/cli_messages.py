"""The message catalogue of ``fieldsync-server``: Simplified Chinese (default) and English.

Error keys are those of ``services.ServiceError.key``, plus the CLI's own.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "initialized": "已初始化：工作区“{workspace}”，管理员 {admin}。",
        "database": "数据库：{url}",
        "upgraded": "数据库结构已是最新。",
        "workspace_added": "已创建工作区“{name}”（{id}）。",
        "user_added": "已创建用户 {username}（{role}，工作区“{workspace}”）。",
        "code_for": "用户 {username} 的登记码（一次有效，{hours} 小时内使用）：",
        "no_devices": "没有设备。",
        "revoked": "已吊销设备 {device_id}（{name}）。",
        "serving": "Fieldsync 服务器运行于 {url}  （按 Ctrl+C 停止）",
        "stopped": "服务器已停止。",
        "yes": "是",
        "no": "否",
        "never": "从未",
        "device_header": "设备ID\t名称\t用户\t工作区\t最近同步\t已吊销",
        # errors (keys of services.ServiceError, plus the CLI's own)
        "workspace_name": "工作区名称须为 1-200 个字符。",
        "workspace_exists": "工作区“{name}”已存在。",
        "no_workspace": "找不到工作区“{name}”。",
        "bad_username": "用户名须为 1-100 个字母、数字或 . _ @ -。",
        "bad_role": "角色须为以下之一：{roles}。",
        "short_password": "密码至少需要 {min} 个字符。",
        "long_display_name": "显示名称最多 200 个字符。",
        "user_exists": "用户 {username} 已存在。",
        "no_user": "找不到用户 {username}。",
        "user_inactive": "该用户已停用。",
        "no_device": "找不到设备 {device_id}。",
        "device_name": "设备名称须为 1-100 个字符。",
        "bad_database_url": "数据库地址无效：{detail}",
        "database_error": "数据库出错（{kind}）：{detail}。新数据库请先运行 "
        "“fieldsync-server db upgrade”。",
        "error": "错误：{detail}",
    },
    "en": {
        "initialized": "Initialised: workspace '{workspace}', administrator {admin}.",
        "database": "Database: {url}",
        "upgraded": "The database schema is up to date.",
        "workspace_added": "Created workspace '{name}' ({id}).",
        "user_added": "Created user {username} ({role}, workspace '{workspace}').",
        "code_for": "Enrollment code for {username} (single use, valid for {hours} hours):",
        "no_devices": "No devices.",
        "revoked": "Revoked device {device_id} ({name}).",
        "serving": "Fieldsync server running at {url}  (Ctrl+C to stop)",
        "stopped": "Server stopped.",
        "yes": "yes",
        "no": "no",
        "never": "never",
        "device_header": "DEVICE ID\tNAME\tUSER\tWORKSPACE\tLAST SYNC\tREVOKED",
        "workspace_name": "A workspace name has 1-200 characters.",
        "workspace_exists": "A workspace named '{name}' already exists.",
        "no_workspace": "No workspace '{name}'.",
        "bad_username": "A username has 1-100 letters, digits or . _ @ -.",
        "bad_role": "The role must be one of: {roles}.",
        "short_password": "A password needs at least {min} characters.",
        "long_display_name": "A display name has at most 200 characters.",
        "user_exists": "A user named {username} already exists.",
        "no_user": "No user {username}.",
        "user_inactive": "That user is deactivated.",
        "no_device": "No device {device_id}.",
        "device_name": "A device name has 1-100 characters.",
        "bad_database_url": "Bad database URL: {detail}",
        "database_error": "Database error ({kind}): {detail}. For a new database run "
        "'fieldsync-server db upgrade' first.",
        "error": "Error: {detail}",
    },
}
