"""The FORMFLOW_* settings: every value the docs allow is read as meant, and every other is
refused at start-up by an error that names the variable, never taken for something else."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from formflow.cli import main
from formflow.config import ConfigError, load_settings


def settings_from(tmp_path: Path, **variables: str) -> object:
    return load_settings({"FORMFLOW_INSTANCE": str(tmp_path), **variables})


@pytest.mark.parametrize("text", ["1", "true", "yes", "on", "ON", "True"])
def test_a_switch_turned_on_is_read_as_on_however_it_is_written(tmp_path: Path, text: str) -> None:
    settings = load_settings(
        {"FORMFLOW_INSTANCE": str(tmp_path), "FORMFLOW_ADMIN_SECOND_FACTOR": text}
    )
    assert settings.admin_second_factor is True


@pytest.mark.parametrize("text", ["0", "false", "no", "off", "Off"])
def test_a_switch_turned_off_is_read_as_off_however_it_is_written(
    tmp_path: Path, text: str
) -> None:
    settings = load_settings({"FORMFLOW_INSTANCE": str(tmp_path), "FORMFLOW_SERVER_JOBS": text})
    assert settings.jobs_in_server is False


@pytest.mark.parametrize(
    "name", ["FORMFLOW_ADMIN_SECOND_FACTOR", "FORMFLOW_SERVER_JOBS", "FORMFLOW_SECURE_COOKIES"]
)
def test_a_switch_that_is_neither_on_nor_off_is_refused(tmp_path: Path, name: str) -> None:
    """FORMFLOW_ADMIN_SECOND_FACTOR=enabled must not quietly leave administrators without a
    second factor."""
    with pytest.raises(ConfigError, match=rf"^{name}='enabled' is neither on \(1, true, yes, on\)"):
        settings_from(tmp_path, **{name: "enabled"})


@pytest.mark.parametrize(
    ("name", "text", "least"),
    [
        ("FORMFLOW_PASSWORD_MIN_LENGTH", "4", 8),
        ("FORMFLOW_PASSWORD_HISTORY", "-3", 0),
        ("FORMFLOW_PASSWORD_HISTORY", "2.5", 0),
        ("FORMFLOW_BACKUP_KEEP", "0", 1),
        ("FORMFLOW_KEEP_DAYS", "-1", 0),
        ("FORMFLOW_KEEP_DAYS", "nan", 0),
        ("FORMFLOW_KEEP_DAYS", "inf", 0),
    ],
)
def test_a_count_out_of_its_range_is_refused_rather_than_changed(
    tmp_path: Path, name: str, text: str, least: int
) -> None:
    """FORMFLOW_KEEP_DAYS=-1 had meant 0, keep everything; a password length of 4, eight."""
    with pytest.raises(
        ConfigError, match=rf"^{name}='{text}' is not a whole number of at least {least}$"
    ):
        settings_from(tmp_path, **{name: text})


def test_counts_in_range_are_read_as_given(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "FORMFLOW_INSTANCE": str(tmp_path),
            "FORMFLOW_PASSWORD_MIN_LENGTH": "12",
            "FORMFLOW_PASSWORD_HISTORY": "0",
            "FORMFLOW_BACKUP_KEEP": "30",
            "FORMFLOW_KEEP_DAYS": "0",
        }
    )
    assert (settings.password_min_length, settings.password_history) == (12, 0)
    assert (settings.backup_keep, settings.keep_days) == (30, 0)


def test_a_mail_port_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"^FORMFLOW_SMTP_PORT='99999' is not a port \(1 to 65535\)$"
    ):
        settings_from(tmp_path, FORMFLOW_SMTP_HOST="mail.example.com", FORMFLOW_SMTP_PORT="99999")


@pytest.mark.parametrize("text", ["0", "-5", "nan", "lots"])
def test_an_upload_limit_that_is_not_a_positive_number_is_refused(
    tmp_path: Path, text: str
) -> None:
    with pytest.raises(
        ConfigError, match=r"^FORMFLOW_MAX_UPLOAD_MB=.* is not a number greater than 0$"
    ):
        settings_from(tmp_path, FORMFLOW_MAX_UPLOAD_MB=text)


def test_a_backup_schedule_that_cannot_be_read_is_refused_naming_the_variable(
    tmp_path: Path,
) -> None:
    """Not found by each server worker as it boots, crashing it."""
    with pytest.raises(
        ConfigError, match=r"^FORMFLOW_BACKUP_SCHEDULE: schedule 'daily' needs five"
    ):
        settings_from(tmp_path, FORMFLOW_BACKUP_SCHEDULE="daily")


@pytest.mark.parametrize("text", ["", "off", "OFF"])
def test_a_backup_schedule_turned_off_is_empty(tmp_path: Path, text: str) -> None:
    settings = load_settings({"FORMFLOW_INSTANCE": str(tmp_path), "FORMFLOW_BACKUP_SCHEDULE": text})
    assert settings.backup_schedule == ""


def test_a_command_stops_at_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    env = {"FORMFLOW_INSTANCE": str(tmp_path), "FORMFLOW_KEEP_DAYS": "nan"}
    result = CliRunner().invoke(main, ["user", "list"], env=env)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.output == "Error: FORMFLOW_KEEP_DAYS='nan' is not a whole number of at least 0\n"
