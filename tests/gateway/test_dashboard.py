"""Operators' basic auth, and pages that escape what they show and mask secret arguments."""

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from config.settings import get_settings
from gateway.dashboard.auth import Operator
from gateway.dashboard.pages import render_overview, render_run
from gateway.dashboard.snapshot import Overview, RunRow, shown_arguments
from workers.db.models import Run, ToolCall
from workers.tools.registry import ToolRegistry, build_tool_spec

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def client(monkeypatch):
    app = FastAPI()

    @app.get("/")
    def page(user: Operator) -> str:
        return user

    def configure(password):
        if password is None:
            monkeypatch.delenv("RUNQ_OPERATOR_PASSWORD", raising=False)
        else:
            monkeypatch.setenv("RUNQ_OPERATOR_PASSWORD", password)
        get_settings.cache_clear()
        return TestClient(app)

    yield configure
    get_settings.cache_clear()


def test_without_an_operator_password_the_pages_stay_closed(client):
    assert client(None).get("/", auth=("admin", "")).status_code == 503


def test_operators_need_the_right_user_and_password(client):
    http = client("s3cret-pass")
    assert http.get("/").status_code == 401
    assert http.get("/").headers["www-authenticate"].startswith("Basic")
    assert http.get("/", auth=("admin", "wrong")).status_code == 401
    assert http.get("/", auth=("root", "s3cret-pass")).status_code == 401
    assert http.get("/", auth=("admin", "s3cret-pass")).json() == "admin"


def test_the_overview_escapes_everything_it_shows():
    row = RunRow("run_<1>", "failed", "<script>x</script>", 1.5, 1, 2, 0.25, "bad <b>")
    html = render_overview(
        Overview({"failed": 1}, [row], budgets=[], cache=None, open_breakers=["t&t"])
    )
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    assert "bad &lt;b&gt;" in html and "t&amp;t" in html
    assert 'data-run-id="run_&lt;1&gt;"' in html


def test_a_run_page_shows_the_error_and_masks_secret_arguments(monkeypatch):
    registry = ToolRegistry()

    def login(user: str, password: str) -> str:
        return "ok"

    registry.register(build_tool_spec(login, secret_args=("password",)))
    monkeypatch.setattr("workers.tools.masking.default_registry", registry)
    run = Run(id="run_1", agent="a", input="hi", status="failed", error="boom <x>", deadline_at=NOW)
    run.created_at = NOW
    arguments = '{"user": "u", "password": "hunter22"}'
    call = ToolCall(run_id="run_1", call_id="c1", turn=1, name="login", arguments=arguments)
    assert shown_arguments(call) == '{"user": "u", "password": "***"}'
    html = render_run(run, [call])
    assert "hunter22" not in html and "boom &lt;x&gt;" in html and 'id="run-error"' in html
