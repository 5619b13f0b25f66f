"""The command line's surface, pinned: every command's --help as committed in tests/data/help/.
A change to a flag, a default or a help line shows here and is made on purpose: regenerate with
INRCODEC_UPDATE_HELP=1 python -m pytest tests/test_cli_help.py, and review the diff."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from inrcodec.cli import main

HELP = Path(__file__).parent / "data" / "help"
COMMANDS = ["", "encode", "decode", "info", "profile", "encode-batch", "decode-batch"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_is_the_committed_one(command, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "100")          # argparse wraps at the terminal's width
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"] if command else ["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    path = HELP / f"help_{command or 'main'}.txt"
    if os.environ.get("INRCODEC_UPDATE_HELP"):
        path.write_text(text)
    assert text == path.read_text(), f"{path.name} differs (see this file's docstring)"
