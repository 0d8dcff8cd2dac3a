"""`/v1/schedules` and `run_at` on `POST /v1/runs`, on a SQLite store through the real app
(no broker needed: a schedule sends nothing when created, a run_at run nothing until due).
Every refusal is a 4xx that names what is wrong; a key sees only its own schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

import workers.demo_agent  # noqa: F401  (registered once at import)

SCHEDULE = {"agent": "assistant", "input": "Daily report", "cron": "0 9 * * 1-5"}


@pytest.fixture
def api(tmp_path, monkeypatch):
    """The app on a fresh store, and the auth headers of three keys (one may only read)."""
    from gateway.http.app import create_app
    from workers import wiring
    from workers.db import key_store

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'runq.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("RUNQ_AGENT_MODULES", raising=False)
    wiring.reset()
    keys = {}
    with wiring.new_session() as session:
        for name, scopes in (
            ("a", ("submit", "read")),
            ("b", ("submit", "read")),
            ("r", ("read",)),
        ):
            _, key = key_store.create_key(session, name=name, scopes=scopes)
            keys[name] = {"authorization": f"Bearer {key}"}
    with TestClient(create_app()) as client:
        yield client, keys
    wiring.reset()


def test_a_schedule_is_created_listed_shown_changed_and_deleted(api):
    http, keys = api
    created = http.post(
        "/v1/schedules", json=SCHEDULE | {"timezone": "Europe/Oslo"}, headers=keys["a"]
    )
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["run"]["input"] == "Daily report" and schedule["enabled"] is True
    assert (schedule["missed"], schedule["overlap"]) == ("skip", "skip")
    next_fire_at = datetime.fromisoformat(schedule["next_fire_at"])
    assert next_fire_at > datetime.now(UTC) and next_fire_at.minute == 0

    sid = schedule["id"]
    assert [s["id"] for s in http.get("/v1/schedules", headers=keys["a"]).json()["data"]] == [sid]
    assert http.get(f"/v1/schedules/{sid}", headers=keys["r"]).status_code == 404  # not r's

    paused = http.patch(f"/v1/schedules/{sid}", json={"enabled": False}, headers=keys["a"])
    assert (paused.json()["enabled"], paused.json()["next_fire_at"]) == (False, None)
    changed = http.patch(
        f"/v1/schedules/{sid}",
        json={"enabled": True, "cron": "*/10 * * * *", "overlap": "cancel"},
        headers=keys["a"],
    ).json()
    assert (changed["cron"], changed["overlap"], changed["enabled"]) == (
        "*/10 * * * *",
        "cancel",
        True,
    )
    assert changed["next_fire_at"] is not None

    assert http.delete(f"/v1/schedules/{sid}", headers=keys["a"]).status_code == 204
    assert http.get(f"/v1/schedules/{sid}", headers=keys["a"]).status_code == 404


def test_another_keys_schedule_is_not_found_for_any_verb(api):
    http, keys = api
    sid = http.post("/v1/schedules", json=SCHEDULE, headers=keys["a"]).json()["id"]
    assert http.get("/v1/schedules", headers=keys["b"]).json()["data"] == []
    for method, body in (("GET", None), ("PATCH", {"enabled": False}), ("DELETE", None)):
        answer = http.request(method, f"/v1/schedules/{sid}", json=body, headers=keys["b"])
        assert (
            answer.status_code == 404 and f"no schedule with id '{sid}'" in answer.json()["error"]
        )
    assert http.get(f"/v1/schedules/{sid}", headers=keys["a"]).json()["enabled"] is True


def test_a_read_only_key_may_list_but_not_create(api):
    http, keys = api
    refused = http.post("/v1/schedules", json=SCHEDULE, headers=keys["r"])
    assert refused.status_code == 403 and "'submit' scope" in refused.json()["error"]
    assert http.get("/v1/schedules", headers=keys["r"]).status_code == 200
    assert http.get("/v1/schedules").status_code == 401


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"cron": "61 * * * *"}, 422, "cron: Value error, Bad minute in '61 * * * *'"),
        ({"cron": "* * *"}, 422, "cron: Value error, Wrong number of fields"),
        ({"cron": ""}, 422, "cron: String should have at least 1 character"),
        ({"timezone": "Mars/Base"}, 422, "timezone: Value error, unknown time zone 'Mars/Base'"),
        ({"missed": "sometimes"}, 422, "missed: Input should be 'skip' or 'catch_up_once'"),
        ({"overlap": "queue"}, 422, "overlap: Input should be 'skip', 'enqueue' or 'cancel'"),
        ({"agent": "nobody"}, 422, "unknown agent 'nobody'"),
        ({"run_at": "2030-01-01T00:00:00Z"}, 422, "leave run_at out"),
        ({"every": "day"}, 422, "every: Extra inputs are not permitted"),
        ({"input": ""}, 422, "input: String should have at least 1 character"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field(api, change, status, says):
    http, keys = api
    answer = http.post("/v1/schedules", json=SCHEDULE | change, headers=keys["a"])
    assert answer.status_code == status and says in answer.json()["error"], answer.text
    assert http.get("/v1/schedules", headers=keys["a"]).json()["data"] == []


def test_an_unknown_agent_is_refused_listing_the_known_ones(api):
    http, keys = api
    answer = http.post("/v1/schedules", json=SCHEDULE | {"agent": "nobody"}, headers=keys["a"])
    assert answer.status_code == 422 and "assistant" in answer.json()["error"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"cron": "0 9 * * funday"}, "cron: Value error, Bad day-of-week"),
        ({"timezone": "Nowhere"}, "timezone: Value error, unknown time zone"),
        ({"overlap": "maybe"}, "overlap: Input should be"),
        ({"agent": "other"}, "agent: Extra inputs are not permitted"),
    ],
)
def test_a_bad_change_is_refused_and_changes_nothing(api, change, says):
    http, keys = api
    sid = http.post("/v1/schedules", json=SCHEDULE, headers=keys["a"]).json()["id"]
    answer = http.patch(f"/v1/schedules/{sid}", json=change, headers=keys["a"])
    assert answer.status_code == 422 and says in answer.json()["error"], answer.text
    assert http.get(f"/v1/schedules/{sid}", headers=keys["a"]).json()["cron"] == SCHEDULE["cron"]


def test_an_unknown_schedule_id_is_404(api):
    http, keys = api
    assert http.get("/v1/schedules/sch_nope", headers=keys["a"]).status_code == 404
    assert http.delete("/v1/schedules/sch_nope", headers=keys["a"]).status_code == 404


# --- run_at on POST /v1/runs -------------------------------------------------------------


def test_a_run_at_run_is_created_pending_and_shows_its_start_time(api):
    http, keys = api
    run_at = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    body = {"agent": "assistant", "input": "hi", "run_at": run_at.isoformat(), "deadline_s": 60}
    created = http.post("/v1/runs", json=body, headers=keys["a"])
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["status"] == "pending" and datetime.fromisoformat(run["run_at"]) == run_at
    assert datetime.fromisoformat(run["deadline_at"]) == run_at + timedelta(seconds=60)
    assert http.get(f"/v1/runs/{run['id']}", headers=keys["a"]).json()["run_at"] is not None


@pytest.mark.parametrize(
    ("run_at", "says"),
    [
        ("2030-01-01T09:00:00", "run_at: Value error, run_at needs a time zone"),
        ("tomorrow", "run_at: Input should be a valid datetime"),
        ("2020-01-01T09:00:00Z", "run_at 2020-01-01 09:00:00Z is in the past"),
        ("2999-01-01T09:00:00Z", "more than 365 days ahead (RUNQ_MAX_RUN_AT_DAYS)"),
    ],
)
def test_a_bad_run_at_is_refused_in_one_line(api, run_at, says):
    http, keys = api
    body = {"agent": "assistant", "input": "hi", "run_at": run_at}
    answer = http.post("/v1/runs", json=body, headers=keys["a"])
    assert answer.status_code == 422 and says in answer.json()["error"], answer.text
    assert "\n" not in answer.json()["error"]
