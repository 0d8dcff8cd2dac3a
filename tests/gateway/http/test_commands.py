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


def test_keys_share_sets_and_shows_a_keys_weight_and_cap(database):
    runner.invoke(app, ["keys", "create", "billing"])
    shared = runner.invoke(
        app, ["keys", "share", "billing", "--weight", "4", "--max-concurrent", "8", "--json"]
    )
    assert shared.exit_code == 0, shared.output
    share = json.loads(shared.output)
    assert (share["weight"], share["max_concurrent_runs"]) == (4, 8)
    uncapped = json.loads(
        runner.invoke(app, ["keys", "share", "billing", "--no-cap", "--json"]).output
    )
    assert (uncapped["weight"], uncapped["max_concurrent_runs"]) == (4, None)
    shown = runner.invoke(app, ["keys", "share", "billing"])
    assert shown.exit_code == 0 and "weight 4, cap none" in shown.output


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--weight", "-3"], "weight must be a whole number of at least 1, not -3"),
        (["--max-concurrent", "0"], "max concurrent runs must be at least 1"),
        (["--max-concurrent", "2", "--no-cap"], "give --max-concurrent or --no-cap, not both"),
    ],
)
def test_keys_share_refuses_bad_input_in_one_line(database, flags, message):
    runner.invoke(app, ["keys", "create", "billing"])
    refused = runner.invoke(app, ["keys", "share", "billing", *flags])
    assert refused.exit_code == 2
    assert message in " ".join(refused.output.split())


def test_keys_share_of_an_unknown_key_exits_7(database):
    missing = runner.invoke(app, ["keys", "share", "nobody", "--weight", "2"])
    assert missing.exit_code == 7 and "nobody" in missing.output
