"""Settings: defaults, GATEWAY_* variables, the TOML file, and one-line errors naming the setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.config import Settings, env_name, load_settings
from gateway.errors import ConfigurationError

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)


def test_defaults_are_the_embedded_setup() -> None:
    s = load_settings()
    assert s.database_url.startswith("sqlite+aiosqlite:///")
    assert s.cache_url == "memory://"
    assert s.erp_page_size == 20_000 and s.crm_page_size == 5_000


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_ERP_PAGE_SIZE", "500")
    monkeypatch.setenv("GATEWAY_CRM_BASE_URL", "https://org.crm.dynamics.com/")
    s = load_settings()
    assert s.erp_page_size == 500
    assert s.crm_base_url == "https://org.crm.dynamics.com"
    assert s.crm_scope == "https://org.crm.dynamics.com/.default"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("GATEWAY_ERP_PAGE_SIZE", "abc", "GATEWAY_ERP_PAGE_SIZE"),
        ("GATEWAY_ERP_PAGE_SIZE", "50000", "GATEWAY_ERP_PAGE_SIZE"),
        ("GATEWAY_DATABASE_URL", "mysql://x", "GATEWAY_DATABASE_URL"),
        ("GATEWAY_CACHE_URL", "memcached://x", "GATEWAY_CACHE_URL"),
        ("GATEWAY_ERP_BASE_URL", "ftp://x", "GATEWAY_ERP_BASE_URL"),
    ],
)
def test_a_wrong_setting_names_itself(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.setting == expected
    assert "\n" not in str(info.value)


def test_missing_upstream_settings_are_named() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings().require_upstreams()
    assert info.value.setting == "GATEWAY_ERP_BASE_URL"


def test_secret_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_CRM_CLIENT_SECRET", "s3cr3t-value")
    s = load_settings()
    assert "s3cr3t-value" not in repr(s) and "s3cr3t-value" not in str(s.model_dump())
    assert s.crm_client_secret.get_secret_value() == "s3cr3t-value"


def test_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('erp_tenant = "contoso"\ncrm_page_size = 1000\n')
    monkeypatch.setenv("GATEWAY_CONFIG_FILE", str(config))
    monkeypatch.setenv("GATEWAY_CRM_PAGE_SIZE", "2000")
    s = load_settings()
    assert s.erp_tenant == "contoso"
    assert s.crm_page_size == 2000  # the environment wins over the file


def test_missing_toml_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_CONFIG_FILE", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.setting == "GATEWAY_CONFIG_FILE"


def test_unknown_key_in_toml_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("erp_tenat = 'typo'\n")
    monkeypatch.setenv("GATEWAY_CONFIG_FILE", str(config))
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.setting == "GATEWAY_ERP_TENAT"


@pytest.mark.parametrize(("value", "problem"), [("-1", "greater than or equal to 0"), ("0.05", "0 (off)")])
def test_a_loop_watch_within_one_tick_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("GATEWAY_LOOP_WATCH_SECONDS", value)
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert error.value.setting == "GATEWAY_LOOP_WATCH_SECONDS"
    assert problem in error.value.problem


def test_the_loop_watch_is_on_at_5_seconds_unless_0() -> None:
    assert load_settings().loop_watch_seconds == 5.0
    assert load_settings(loop_watch_seconds=0).loop_watch_seconds == 0


def test_readme_documents_every_setting() -> None:
    documented = set(re.findall(r"`(GATEWAY_[A-Z_]+)`", README.read_text()))
    expected = {env_name(name) for name in Settings.model_fields}
    assert expected <= documented, f"README lacks {sorted(expected - documented)}"
