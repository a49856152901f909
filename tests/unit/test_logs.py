"""The JSON log lines every process writes."""

from __future__ import annotations

import json
import logging

import pytest

from hooks import logs


def test_uvicorns_colour_copy_of_a_message_is_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    """uvicorn logs its startup lines twice over: plain, and with ANSI escapes in the
    `color_message` extra (uvicorn/server.py). Only the plain one belongs in JSON."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        logs.configure("INFO")
        logging.getLogger("uvicorn.error").info(
            "Started server process [%d]",
            42,
            extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"},
        )
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "\\u001b" not in line
    entry = json.loads(line)
    assert entry["message"] == "Started server process [42]"
    assert "color_message" not in entry
