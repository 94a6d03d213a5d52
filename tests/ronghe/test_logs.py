"""``ronghe.logs``: the JSON line format of ``--log-format json``."""

from __future__ import annotations

import json
import logging

from ronghe.logs import JsonFormatter


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "voip_core.proxy", logging.WARNING, __file__, 1, "呼叫 %s 失败", ("8001",), None
    )
    record.created = 1_765_000_000.25
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def test_json_line_has_time_level_logger_and_message_in_utf8() -> None:
    line = JsonFormatter().format(_record())
    assert "呼叫" in line  # not escaped as \\u547c
    assert json.loads(line) == {
        "time": "2025-12-06T05:46:40.250+00:00",
        "level": "warning",
        "logger": "voip_core.proxy",
        "message": "呼叫 8001 失败",
    }


def test_json_line_carries_the_call_context() -> None:
    line = json.loads(JsonFormatter().format(_record(call_id="abc@host", branch="z9hG4bK1")))
    assert line["call_id"] == "abc@host"
    assert line["branch"] == "z9hG4bK1"


def test_json_line_carries_the_exception() -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        record = _record()
        record.exc_info = __import__("sys").exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["exception"].startswith("Traceback")
    assert line["exception"].endswith("ValueError: bad value")
