"""Key scopes: `runq keys create --scope`, `keys list` shows them, and keys made before
scopes (migration 0008) keep what they could do."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from alembic import command
from typer.testing import CliRunner

from gateway.cli import app
from workers.db import key_store
from workers.db.migrate import alembic_config

runner = CliRunner()


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'runq.db'}")
    from workers import wiring

    wiring.reset()
    yield
    wiring.reset()


def listed_scopes() -> dict[str, list[str]]:
    rows = json.loads(runner.invoke(app, ["keys", "list", "--json"]).output)
    return {row["name"]: row["scopes"] for row in rows}


def test_keys_are_created_with_the_scopes_asked_and_listed_with_them(database):
    default = runner.invoke(app, ["keys", "create", "service", "--json"])
    assert default.exit_code == 0 and json.loads(default.output)["scopes"] == ["submit", "read"]
    dashboard = runner.invoke(app, ["keys", "create", "dashboard", "--scope", "read", "--json"])
    assert dashboard.exit_code == 0 and json.loads(dashboard.output)["scopes"] == ["read"]
    ops = ["keys", "create", "ops", "--scope", "admin", "--scope", "read"]
    assert runner.invoke(app, ops).exit_code == 0

    assert listed_scopes() == {
        "service": ["submit", "read"],
        "dashboard": ["read"],
        "ops": ["read", "admin"],
    }
    table = runner.invoke(app, ["keys", "list"]).output
    assert "scopes" in table and "submit,read" in table


def test_an_unknown_scope_is_bad_usage_and_names_the_choices(database):
    refused = runner.invoke(app, ["keys", "create", "x", "--scope", "write"])
    assert refused.exit_code == 2, refused.output
    assert "write" in refused.output and "submit, read, admin" in refused.output
    assert listed_scopes() == {}


@pytest.mark.parametrize(
    ("scopes", "needed", "allowed"),
    [
        ({"submit", "read"}, "submit", True),
        ({"read"}, "submit", False),
        ({"submit"}, "read", False),
        ({"admin"}, "submit", True),
        ({"admin"}, "read", True),
        ({"read"}, "admin", False),
    ],
)
def test_scope_table(scopes, needed, allowed):
    assert key_store.has_scope(frozenset(scopes), needed) is allowed


def test_keys_made_before_scopes_keep_submit_and_read(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0004")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO apikey (id, name, prefix, key_hash, created_at) "
                "VALUES ('key_old', 'old', 'rq_x', 'h', '2026-01-01 00:00:00')"
            )
        )
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as connection:
        scopes = connection.execute(sa.text("SELECT scopes FROM apikey")).scalar_one()
    engine.dispose()
    assert key_store.parse_scopes(scopes) == {"submit", "read"}
