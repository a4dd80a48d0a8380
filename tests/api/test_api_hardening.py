"""Safe headers, the request body limit and the API's Prometheus metrics (real database)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_safe_headers_on_every_reply(client) -> None:
    for path in ("/v1/segments/current", "/healthz", "/v1/nope"):
        r = client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in client.get("/v1/segments/current").headers[
        "content-security-policy"
    ]


def test_oversized_bodies_are_refused_before_any_route_reads_them(make_client) -> None:
    client = make_client(api_max_body_bytes=2048)
    big = "x" * 5000
    r = client.post("/v1/auth/token", data={"username": "a", "password": big})
    assert r.status_code == 413 and "2048" in r.json()["detail"]
    assert r.headers["x-content-type-options"] == "nosniff"

    def chunks():  # no Content-Length: the body is counted as it streams
        for _ in range(10):
            yield b"y" * 1000

    r = client.post("/v1/auth/token", content=chunks(),
                    headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 413
    small = client.post("/v1/auth/token", data={"username": "nobody", "password": "wrong"})
    assert small.status_code in (400, 401, 422)  # reaches the route, refused there


def test_prometheus_metrics_count_requests_by_route_template(client) -> None:
    client.get("/v1/segments/current")
    client.get("/v1/segments/no-such-segment")
    client.get("/definitely/not/a/route")
    text = client.get("/metrics").text
    assert 'itms_api_requests_total{method="GET",route="/v1/segments/current",status="200"}' in text
    assert 'route="/v1/segments/{segment_id}",status="404"' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "itms_api_request_seconds_bucket" in text and "process_resident_memory_bytes" in text
