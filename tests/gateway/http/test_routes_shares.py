"""Fair shares through the real app on a SQLite store: an admin key sets another key's
weight and cap, a key reads its own share, and a weight or cap below 1 is a 422 that says
which (an unknown key a 404, a key without `admin` a 403)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def api(tmp_path, monkeypatch):
    from gateway.http.app import create_app
    from workers import wiring
    from workers.db import key_store

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'runq.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("RUNQ_AGENT_MODULES", raising=False)
    wiring.reset()
    keys = {}
    with wiring.new_session() as session:
        for name, scopes in (("ops", ("admin",)), ("billing", ("submit", "read"))):
            _, key = key_store.create_key(session, name=name, scopes=scopes)
            keys[name] = {"authorization": f"Bearer {key}"}
    with TestClient(create_app()) as client:
        yield client, keys
    wiring.reset()


def test_an_admin_sets_a_share_and_the_key_reads_it(api):
    http, keys = api
    changed = http.patch(
        "/v1/keys/billing/share",
        json={"weight": 3, "max_concurrent_runs": 5},
        headers=keys["ops"],
    )
    assert changed.status_code == 200, changed.text
    own = http.get("/v1/share", headers=keys["billing"]).json()
    assert own == {
        "key": "billing",
        "weight": 3,
        "max_concurrent_runs": 5,
        "in_flight": 0,
        "waiting": 0,
        "in_flight_target": 0,
    }
    # A field left out stays; an explicit null removes the cap.
    http.patch("/v1/keys/billing/share", json={"weight": 2}, headers=keys["ops"])
    assert (
        http.get("/v1/keys/billing/share", headers=keys["ops"]).json()["max_concurrent_runs"] == 5
    )
    cleared = http.patch(
        "/v1/keys/billing/share", json={"max_concurrent_runs": None}, headers=keys["ops"]
    ).json()
    assert (cleared["weight"], cleared["max_concurrent_runs"]) == (2, None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"weight": -1}, "weight must be a whole number of at least 1, not -1"),
        ({"weight": 0}, "weight must be a whole number of at least 1, not 0"),
        (
            {"max_concurrent_runs": -5},
            "max concurrent runs must be at least 1 (or unset for no cap), not -5",
        ),
    ],
)
def test_a_weight_or_cap_below_one_is_refused_with_the_reason(api, body, message):
    http, keys = api
    refused = http.patch("/v1/keys/billing/share", json=body, headers=keys["ops"])
    assert refused.status_code == 422
    assert message in refused.text
    assert http.get("/v1/share", headers=keys["billing"]).json()["weight"] == 1  # unchanged


def test_an_unknown_key_is_a_404_and_a_key_without_admin_a_403(api):
    http, keys = api
    missing = http.patch("/v1/keys/nobody/share", json={"weight": 2}, headers=keys["ops"])
    assert missing.status_code == 404 and "nobody" in missing.text
    forbidden = http.patch("/v1/keys/billing/share", json={"weight": 9}, headers=keys["billing"])
    assert forbidden.status_code == 403 and "admin" in forbidden.text
