"""Pages of other origins cannot change anything in the studio (no CSRF, no framing)."""

from __future__ import annotations

from typing import Any

import pytest
from studiokit import FakeRunner, Studio, png_bytes

from storyreel.service.security import SECURITY_HEADERS

# Origins a page other than the studio's own (http://127.0.0.1, port 80 here) may send.
FOREIGN_ORIGINS = [
    "null",                       # sandboxed iframe, or a page after a cross-origin redirect
    "http://evil.example",
    "http://127.0.0.1:8000",      # same host, another port
    "https://127.0.0.1",          # same host, another scheme
    "http://localhost",           # another name of the same machine
    "http://127.0.0.1.evil.example",
    "",
    "not a url",
]


def _requests(studio: Studio) -> list[tuple[str, str, dict[str, Any]]]:
    """Every kind of state-changing request, aimed at a real project and segment."""
    project = studio.create(2)
    pid, sid = project["id"], project["segment_list"][0]["id"]
    other = project["segment_list"][1]["id"]
    upload = {"files": {"file": ("a.png", png_bytes(), "image/png")}}
    return [
        ("POST", "/api/projects/", {"json": {"title": "Planted"}}),
        ("POST", "/api/projects/", {"content": b"Segment 1\nPlanted",
                                    "headers": {"content-type": "text/plain"}}),
        ("PATCH", f"/api/projects/{pid}/", {"json": {"title": "Changed"}}),
        ("DELETE", f"/api/projects/{pid}/", {}),
        ("POST", f"/api/projects/{pid}/segments/", {"json": {"text": "Planted"}}),
        ("PATCH", f"/api/projects/{pid}/segments/{sid}/", {"json": {"text": "Changed"}}),
        ("PUT", f"/api/projects/{pid}/segments/order/", {"json": {"order": [other, sid]}}),
        ("DELETE", f"/api/projects/{pid}/segments/{sid}/", {}),
        ("POST", f"/api/projects/{pid}/segments/{sid}/image/", upload),
        ("POST", f"/api/projects/{pid}/assets/logo/", upload),
        ("DELETE", f"/api/projects/{pid}/assets/logo/", {}),
        ("POST", f"/api/projects/{pid}/render/", {}),
        ("POST", f"/api/projects/{pid}/cancel/", {}),
    ]


def _snapshot(studio: Studio) -> list[Any]:
    projects = studio.client.get("/api/projects/").json()
    return [studio.client.get(f"/api/projects/{p['id']}/").json() for p in projects]


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
def test_state_changes_from_another_origin_are_refused(make_studio: Any, origin: str) -> None:
    studio = make_studio(runner=FakeRunner())
    requests = _requests(studio)
    before = _snapshot(studio)
    assert len(requests) == 13 and len(before) == 1
    for method, path, options in requests:
        headers = {**options.pop("headers", {}), "origin": origin}
        answer = studio.client.request(method, path, headers=headers, **options)
        assert answer.status_code == 403, (method, path, answer.text)
        assert "other websites" in answer.json()["detail"]
    assert _snapshot(studio) == before


@pytest.mark.parametrize("site", ["cross-site", "same-site", "CROSS-SITE", "bogus"])
def test_fetch_metadata_decides_where_the_browser_sends_it(make_studio: Any, site: str) -> None:
    studio = make_studio(runner=FakeRunner())
    # Even an Origin that looks like the studio's own does not outweigh the browser's word.
    answer = studio.client.post("/api/projects/", json={"title": "x"},
                                headers={"sec-fetch-site": site, "origin": "http://127.0.0.1"})
    assert answer.status_code == 403
    assert studio.client.get("/api/projects/").json() == []


@pytest.mark.parametrize("headers", [
    {"sec-fetch-site": "same-origin", "origin": "http://127.0.0.1"},
    {"sec-fetch-site": "none"},
    {"origin": "http://127.0.0.1"},
    {"origin": "HTTP://127.0.0.1:80"},
    {},  # not a browser: curl, scripts, the Python API client
])
def test_the_studios_own_page_and_non_browser_clients_are_served(
        make_studio: Any, headers: dict[str, str]) -> None:
    studio = make_studio(runner=FakeRunner())
    answer = studio.client.post("/api/projects/", json={"title": "Mine"}, headers=headers)
    assert answer.status_code == 201, answer.text


def test_reading_is_not_refused_but_cannot_be_shared_with_other_origins(
        make_studio: Any) -> None:
    studio = make_studio(runner=FakeRunner())
    answer = studio.client.get("/api/projects/", headers={"origin": "null",
                                                          "sec-fetch-site": "cross-site"})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers
    preflight = studio.client.options("/api/projects/", headers={
        "origin": "http://evil.example", "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_every_answer_forbids_framing_and_sniffing(make_studio: Any) -> None:
    studio = make_studio(runner=FakeRunner())
    answers = [studio.client.get("/"), studio.client.get("/static/app.js"),
               studio.client.get("/api/projects/"), studio.client.get("/api/projects/99/"),
               studio.client.post("/api/projects/", headers={"origin": "null"}),
               studio.client.get("/docs")]
    assert [a.status_code for a in answers] == [200, 200, 200, 404, 403, 200]
    for answer in answers:
        for name, value in SECURITY_HEADERS:
            assert answer.headers[name] == value
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    page_policy = answers[0].headers["content-security-policy"]
    assert "script-src 'self';" in page_policy and "unsafe" not in page_policy
