"""The one settings object: `assistant.config.get_settings`, its docstring table and app.py's generated flags."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

import app as app_py
from assistant import config
from assistant.config import Settings, get_settings

pytestmark = pytest.mark.unit

#: A row of `assistant.config`'s table: | variable | flag | default | meaning |
_ROW = re.compile(r"^\|\s*(?P<variable>[A-Z_]+)\s*\|(?P<flag>[^|]*)\|(?P<default>[^|]*)\|(?P<meaning>[^|]+)\|$")


def _table() -> dict[str, dict[str, str]]:
    """Variable → its row's cells, from the module docstring (a variable listed twice fails)."""
    rows: dict[str, dict[str, str]] = {}
    for line in config.__doc__.splitlines():
        match = _ROW.match(line.strip())
        if match:
            assert match["variable"] not in rows, f"{match['variable']} is listed twice"
            rows[match["variable"]] = {key: value.strip() for key, value in match.groupdict().items()}
    return rows


def _variable(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"ASSISTANT_{field.upper()}"


def _written(value: object) -> str:
    """A default as the table writes it between double backquotes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def test_the_docstring_table_lists_every_setting_and_nothing_else():
    listed = set(_table())
    fields = {_variable(name) for name in Settings.model_fields}
    assert len(listed) > 20  # the table was parsed, not skipped
    assert not fields - listed, f"settings missing from assistant/config.py's docstring table: {sorted(fields - listed)}"
    assert not listed - fields, f"the table names variables that are no setting: {sorted(listed - fields)}"


def test_the_table_gives_each_flag_app_py_generates_and_each_literal_default():
    table = _table()
    for name, info in Settings.model_fields.items():
        row = table[_variable(name)]
        expected_flag = f"``{app_py.flag_of(name)}``" if name in app_py.FLAG_FIELDS else ""
        assert row["flag"] == expected_flag, f"{_variable(name)}: flag column {row['flag']!r}, app.py has {expected_flag!r}"
        literal = re.fullmatch(r"``([^`]*)``", row["default"])
        if literal:
            cell = str(Path(literal[1]).expanduser()) if name == "model_cache" else literal[1]
            default = _written(info.get_default(call_default_factory=True))
            assert cell == default, f"{_variable(name)}: the table says {literal[1]!r}, the field's default is {default!r}"


def test_get_settings_reads_the_environment_once_until_the_cache_is_cleared(monkeypatch):
    monkeypatch.setenv("ASSISTANT_PORT", "8123")
    first = get_settings()
    assert first.port == 8123 and get_settings() is first
    monkeypatch.setenv("ASSISTANT_PORT", "8124")
    assert get_settings().port == 8123  # cached: read once
    get_settings.cache_clear()
    assert get_settings().port == 8124


def test_settings_are_frozen_so_the_shared_object_cannot_be_changed_by_one_caller():
    with pytest.raises(ValidationError, match="frozen"):
        get_settings().index_dir = Path("elsewhere")


def test_a_malformed_variable_is_named_and_not_cached(monkeypatch):
    monkeypatch.setenv("ASSISTANT_ALLOWED_HOSTS", "https://policies.example.org/")
    with pytest.raises(ValidationError, match=re.escape("is not a host name like policies.example.org")):
        get_settings()
    monkeypatch.setenv("ASSISTANT_ALLOWED_HOSTS", "policies.example.org")
    assert get_settings().allowed_hosts == ["policies.example.org"]


def test_fields_are_overridden_by_keyword_as_tests_build_apps(tmp_path):
    # ``assistant.web.settings.WebSettings`` is this class (not imported here: the web package loads Gradio, ~14 s).
    web = Settings(index_dir=tmp_path, reload_interval=0, widget_origins="https://a.sch.uk/, *")
    assert web.index_dir == tmp_path and web.reload_interval == 0
    assert web.widget_origins == ["https://a.sch.uk", "*"] and web.any_origin


def test_variables_once_read_raw_are_settings_now(monkeypatch, tmp_path):
    from assistant.models import model_cache_dir
    from assistant.rerank import TRAINED_DIR, trained_dir

    # ASSISTANT_HEADER_TIMEOUT (assistant.web.limits.header_timeout) is checked by a real server in test_deploy_hardening.py.
    assert trained_dir() == TRAINED_DIR and model_cache_dir() == Path.home() / ".cache" / "policy-assistant"
    monkeypatch.setenv("ASSISTANT_TRAINED_DIR", str(tmp_path / "fold-1"))
    monkeypatch.setenv("ASSISTANT_MODEL_CACHE", str(tmp_path / "cache"))
    get_settings.cache_clear()
    assert (trained_dir(), model_cache_dir()) == (tmp_path / "fold-1", tmp_path / "cache")
    monkeypatch.setenv("ASSISTANT_TRAINED_DIR", "")  # empty: unset, as before
    get_settings.cache_clear()
    assert trained_dir() == TRAINED_DIR


# --- app.py's flags, generated from the fields -----------------------------------------------------


def test_app_py_flags_default_to_the_environment_and_override_it(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_PORT", "9000")
    monkeypatch.setenv("ASSISTANT_WIDGET_ORIGINS", "https://www.school.sch.uk")
    monkeypatch.setenv("ASSISTANT_RATE_LIMIT", "5/minute")  # no flag: read from the environment
    settings = app_py.parse_args([])
    assert (settings.port, settings.widget_origins, settings.rate_limit) == (9000, ["https://www.school.sch.uk"], "5/minute")
    assert settings.serve_examples and settings.workers == 1
    settings = app_py.parse_args(
        [
            "--port",
            "9001",
            "--index-dir",
            str(tmp_path),
            "--reload-interval",
            "0.5",
            "--no-examples",
            "--workers",
            "2",
            "--log-level",
            "debug",
        ]
    )
    assert (settings.port, settings.index_dir, settings.reload_interval) == (9001, tmp_path, 0.5)
    assert (settings.serve_examples, settings.workers, settings.log_level) == (False, 2, "debug")


def test_app_py_names_the_flag_of_a_bad_value(capsys):
    with pytest.raises(SystemExit):
        app_py.parse_args(["--port", "eighty"])
    assert "argument --port: invalid int value: 'eighty'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        app_py.parse_args(["--port", "0", "--widget-origins", "www.glais.example/path"])
    err = capsys.readouterr().err
    assert "--port: Input should be greater than or equal to 1" in err
    assert "--widget-origins: 'www.glais.example/path' is not an origin like https://www.school.sch.uk (or *)" in err


def test_app_py_help_lists_each_flag_with_its_variable(capsys):
    with pytest.raises(SystemExit):
        app_py.parse_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for field in app_py.FLAG_FIELDS:
        assert app_py.flag_of(field) in help_text and _variable(field) in help_text
    assert "--no-examples do not serve /examples/school-site.html" in help_text


def test_the_flags_environment_gives_worker_processes_the_same_settings(monkeypatch, tmp_path):
    chosen = app_py.parse_args(
        ["--index-dir", str(tmp_path), "--no-examples", "--allowed-hosts", "policies.example.org", "--forwarded-allow-ips", "10.0.0.0/8"]
    )
    for variable, value in app_py.flag_environment(chosen).items():
        monkeypatch.setenv(variable, value)
    worker = Settings()
    for field in app_py.FLAG_FIELDS:
        assert getattr(worker, field) == getattr(chosen, field), field
