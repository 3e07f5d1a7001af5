"""The field UI's words in Simplified Chinese (default) and English: a plain dict catalogue.

``translate(lang, key, **values)`` looks a key up in ``CATALOGUE`` and fills ``{name}``
placeholders; ``enum_label`` names record kinds, statuses, categories and fields (``ENUMS``);
``server_message`` turns the protocol's fixed English validation messages into Chinese.
"""

from __future__ import annotations

import re
from typing import Any

from field_client.web.catalogue import CATALOGUE, ENUMS

__all__ = [
    "CATALOGUE",
    "DEFAULT_LANG",
    "ENUMS",
    "LANGS",
    "enum_label",
    "server_message",
    "translate",
]

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

# The protocol's fixed English messages (sync/records.py, sync/wire.py) in Chinese.
_SERVER_MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), zh)
    for p, zh in [
        (r"^must be a string$", "必须是文字"),
        (r"^must be at most (\d+) characters$", "最多 {0} 个字"),
        (r"^must not be empty$", "不能为空"),
        (r"^needs (\d+)\+ characters$", "至少 {0} 个字"),
        (r"^must be one of: .*$", "不是允许的选项"),
        (r"^must be a whole number$", "必须是整数"),
        (r"^must be at least (-?\d+)$", "不能小于 {0}"),
        (r"^must be at most (-?\d+)$", "不能大于 {0}"),
        (r"^must be a number$", "必须是数字"),
        (r"^must be between (\S+) and (\S+)$", "必须在 {0} 到 {1} 之间"),
        (r"^must be a date like .*$", "日期格式不对，例如 2024-05-31"),
        (
            r"^must be a time with offset like .*$",
            "时间格式不对，需要带时区，例如 2024-05-31 09:30",
        ),
        (r"^must be a record id.*$", "引用的记录编号无效"),
        (r"^must be a list of at most (\d+) record ids$", "最多选 {0} 项"),
        (r"^must contain only record ids.*$", "引用的记录编号无效"),
        (r"^unknown field$", "服务器不认识这个字段"),
        (r"^is set by office staff only$", "只能由办公室填写"),
        (r"^is required$", "必填"),
        (r"^is required for a new record$", "新记录必须填写"),
        (r"^must be true or false$", "必须是“是”或“否”"),
        (r"^stamp must sort after its base$", "时间戳有误，请重新保存"),
        (r"^appears twice in batch$", "同一批次中重复出现"),
        (r"^refers to a record of another workspace.*$", "引用了不属于本工作区的记录"),
        (r"^this record belongs to another workspace.*$", "这条记录属于另一个工作区，不能修改"),
        (r"^must be a lower-case UUID$", "记录编号无效"),
        (r"^must not be in the future$", "不能晚于现在"),
        (r"^names a person not met in the concern's visit$", "所选的人不是这次走访见到的人"),
        (r"^must be one of the concern's people.*$", "反映人必须是这条诉求的相关人之一"),
        (r"^unknown record type.*$", "服务器不认识这种记录"),
        (r"^cannot be set on a new record$", "新记录不能设置此项"),
    ]
]


def translate(lang: str, key: str, **values: Any) -> str:
    """Return the text for ``key`` in ``lang`` with ``{name}`` placeholders filled."""
    pair = CATALOGUE.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "en" else pair[0]
    return text.format(**values) if values else text


def enum_label(lang: str, group: str, value: Any) -> str:
    """Return the label of one enum value (a record kind, status...); the raw value if unknown."""
    if value is None or value == "":
        return ""
    pair = ENUMS.get(group, {}).get(str(value))
    if pair is None:
        return str(value)
    return pair[1] if lang == "en" else pair[0]


def server_message(lang: str, message: str) -> str:
    """Translate one of the protocol's fixed English messages into Chinese when known."""
    if lang == "en":
        return message
    for pattern, zh in _SERVER_MESSAGES:
        match = pattern.match(message)
        if match:
            return zh.format(*match.groups())
    return message
