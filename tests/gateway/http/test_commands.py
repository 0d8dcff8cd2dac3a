"""`runq keys`: a key is printed once, listed by prefix only, and revoked by name."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gateway.cli import app

runner = CliRunner()


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'runq.db'}")
    from workers import wiring

    wiring.reset()
    yield
    wiring.reset()


def test_keys_create_list_revoke(database):
    created = runner.invoke(app, ["keys", "create", "billing", "--json"])
    assert created.exit_code == 0, created.output
    key = json.loads(created.output)
    assert key["name"] == "billing" and key["key"].startswith("rq_")

    listed = runner.invoke(app, ["keys", "list", "--json"])
    [row] = json.loads(listed.output)
    assert key["key"].startswith(row["prefix"]) and key["key"] not in listed.output
    assert row["revoked_at"] is None

    taken = runner.invoke(app, ["keys", "create", "billing"])
    assert taken.exit_code == 2, taken.output  # bad usage: the name is taken
    assert runner.invoke(app, ["keys", "revoke", "billing"]).exit_code == 0
    assert json.loads(runner.invoke(app, ["keys", "list", "--json"]).output)[0]["revoked_at"]
    gone = runner.invoke(app, ["keys", "revoke", "billing"])
    assert gone.exit_code == 7, gone.output  # not found: no live key of that name
    assert "runq keys list" in gone.output
