"""`swingtrader analyze` skips loading the settings when they can only be their defaults: the same report, no
pydantic import; any other setting in the environment or a `--config` file still applies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from swingtrader.commands.analyze import SETTING_NAMES, default_settings
from swingtrader.config import Settings, load_settings
from swingtrader.strategy.params import StrategyParams, params_from_settings

AS_OF = "2024-06-04"


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SWINGTRADER_")}
    return {**env, "PYTHONPATH": os.pathsep.join(sys.path), **settings}


def analyze(env: dict[str, str], *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "swingtrader", "analyze", "--as-of", AS_OF, "--json", *args],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_setting_names_and_defaults_are_the_settings_own(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(Settings.model_fields) == SETTING_NAMES
    for key in [k for k in os.environ if k.upper().startswith("SWINGTRADER_")]:
        monkeypatch.delenv(key)
    settings = load_settings()
    assert params_from_settings(settings) == StrategyParams()
    assert default_settings({}) == (settings.data_dir, settings.data)


@pytest.mark.parametrize(("environ", "expected"), [
    ({"SWINGTRADER_DATA_DIR": "/d", "swingtrader_data": "synthetic", "SWINGTRADER_SHARED_DATA": "x", "HOME": "/"},
     (Path("/d"), "synthetic")),
    ({"SWINGTRADER_RSI_ENTRY": "35"}, None),
    ({"SWINGTRADER_DATA_DIR": ""}, None),
    ({"swingtrader_universe": "TCS"}, None),
])
def test_default_settings_only_when_nothing_else_is_set(environ: dict, expected) -> None:
    assert default_settings(environ) == expected


def test_the_report_is_the_one_loaded_settings_give(tmp_path: Path) -> None:
    plain = analyze(clean_env(SWINGTRADER_DATA_DIR=str(tmp_path / "a")))
    config = tmp_path / "config.env"
    config.write_text(f"SWINGTRADER_DATA_DIR={tmp_path / 'b'}\n")
    assert analyze(clean_env(), "--config", str(config)) == plain
    assert plain["candidates"]
    looser = analyze(clean_env(SWINGTRADER_DATA_DIR=str(tmp_path / "a"), SWINGTRADER_RSI_ENTRY="45"))
    assert len(looser["candidates"]) > len(plain["candidates"])  # a setting in the environment still applies


def test_with_default_settings_pydantic_is_not_imported(tmp_path: Path) -> None:
    child = ("import contextlib, io, sys\n"
             "from swingtrader.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             f"    assert main(['analyze', '--as-of', '{AS_OF}', '--json']) == 0\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_settings')))\n")
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120,
                          env=clean_env(SWINGTRADER_DATA_DIR=str(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
