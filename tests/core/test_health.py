"""The probes a load balancer and an orchestrator call."""


def test_healthz_answers_ok(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"]


def test_readyz_reports_database_and_cache(client, db):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"ready": True, "checks": {"database": "ok", "cache": "ok"}}


def test_readyz_says_not_ready_when_the_cache_is_down(client, db, monkeypatch):
    from apps.core import views

    def broken_set(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(views.cache, "set", broken_set)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"ready": False, "checks": {"database": "ok", "cache": "error: ConnectionError"}}
