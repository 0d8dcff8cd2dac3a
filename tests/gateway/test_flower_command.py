"""`runq flower` refuses to start open or without a broker, in one line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gateway.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch):
    from config.settings import get_settings

    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("password", [None, ""])
def test_no_operator_password_is_a_configuration_error(monkeypatch, password):
    if password is None:
        monkeypatch.delenv("RUNQ_OPERATOR_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("RUNQ_OPERATOR_PASSWORD", password)  # as compose writes an unset one
    result = runner.invoke(app, ["flower"])
    assert result.exit_code == 9, result.output
    assert "RUNQ_OPERATOR_PASSWORD" in result.output


def test_no_broker_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("RUNQ_OPERATOR_PASSWORD", "s3cret-operator")
    result = runner.invoke(app, ["flower"])
    assert result.exit_code == 9, result.output
    assert "REDIS_URL is not set" in result.output
    assert "s3cret-operator" not in result.output


def test_an_unreachable_broker_is_named_without_its_password(monkeypatch):
    monkeypatch.setenv("RUNQ_OPERATOR_PASSWORD", "s3cret-operator")
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@127.0.0.1:1/0")
    result = runner.invoke(app, ["flower"])
    assert result.exit_code == 8, result.output
    assert "127.0.0.1:1" in result.output and "hunter2" not in result.output
