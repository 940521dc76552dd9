"""The class hub's status page (``autograder/hub/status_service.py``, ``status_page.py``).

No hub and no browser: the service's tornado app answers requests on a loopback port, with a
stand-in for the hub's API that names the user a token belongs to (the login itself, the
OAuth redirect and the cookie, is JupyterHub's own code, ``HubOAuth``). The queues are
temporary databases filled through the watcher's store. The attacks come first: a request
without a login, a classmate's rows, markup in a reason.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import html
import re
from pathlib import Path

import pytest
from jupyterhub.services.auth import HubOAuth
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import create_signed_value

from autograder.grading import watch
from autograder.grading.watch import admission
from autograder.hub import status_page, status_service
from autograder.hub.status_service import SECURITY_HEADERS, StatusConfig
from autograder.kernel.protocol import Status

ASSIGNMENT, OTHER = "C2_W2_Assignment", "C2_W3_Assignment"
SERVICE = "submissions"
PREFIX = f"/services/{SERVICE}/"
NOW = datetime.datetime(2026, 12, 4, 10, 0, tzinfo=datetime.timezone.utc)
SCOPE = f"access:services!service={SERVICE}"
HOSTILE_REASON = "<script>window.pwned = 1</script><img src=x onerror=alert(1)>"


def _user(name: str, *, scopes: tuple[str, ...] = (SCOPE,), kind: str = "user") -> dict:
    return {"name": name, "kind": kind, "scopes": list(scopes), "groups": []}


#: The hub's answer for each token: alice and bob are classmates.
TOKENS = {
    "alice-token": _user("alice"),
    "bob-token": _user("bob"),
    "eve-token": _user("eve", scopes=()),  # a hub user without access to the service
    "culler-token": _user("idle-culler", kind="service"),
    "markup-token": _user("<b>mallory</b>"),
}


class StandInHub(HubOAuth):
    """The hub's API as the service reaches it: a token names a user, or nobody."""

    def user_for_token(self, token, use_cache=True, session_id="", *, sync=True):
        model = TOKENS.get(token)

        async def answer():
            return model

        return model if sync else answer()


def _hub() -> StandInHub:
    return StandInHub(
        api_token="the-services-own-token",
        api_url="http://127.0.0.1:9/hub/api",
        oauth_client_id=f"service-{SERVICE}",
        oauth_redirect_uri=f"http://127.0.0.1:8000{PREFIX}oauth_callback",
        oauth_authorization_url="/hub/api/oauth2/authorize",
        base_url=PREFIX,
        cookie_host_prefix_enabled=False,
    )


def _entry(student: str, minutes: int, state: watch.QueueState, **fields) -> watch.Entry:
    """A submission of ``student`` made ``minutes`` before NOW."""
    at = NOW - datetime.timedelta(minutes=minutes)
    return watch.Entry(
        id=f"{student}+{ASSIGNMENT}+{at:%Y-%m-%d %H:%M:%S}.000000 UTC",
        student=student,
        timestamp=at,
        state=state,
        seen_at=at,
        **fields,
    )


def _graded(student: str, minutes: int, score: float, **fields) -> watch.Entry:
    at = NOW - datetime.timedelta(minutes=minutes - 1)
    return _entry(
        student,
        minutes,
        watch.QueueState.DONE,
        status=Status.OK,
        score=score,
        max_score=16.0,
        started_at=at,
        finished_at=at,
        **fields,
    )


def _fill(course: Path, assignment: str, entries: list[watch.Entry]) -> None:
    store = watch.QueueStore.open(course, assignment)
    assert store is not None
    with store:
        store.save(entries)


@pytest.fixture
def course(tmp_path) -> Path:
    """A course root whose queues hold alice's, bob's and carol's submissions."""
    W = watch.QueueState
    _fill(
        tmp_path,
        ASSIGNMENT,
        [
            _graded(
                "alice",
                50,
                16.0,
                counts=True,
                counting="the latest submission counts (counts = latest)",
            ),
            _graded("bob", 45, 3.0, counts=True, reason="bob-only: kernel died in cell 4"),
            _entry("bob", 5, W.WAITING),
            _entry("alice", 4, W.FAILED, reason=HOSTILE_REASON),
            _entry("carol", 3, W.WAITING),
            _entry("alice", 2, W.WAITING, not_before=NOW + datetime.timedelta(minutes=40)),
            _entry("<b>mallory</b>", 1, W.FAILED, reason="not a student of this course"),
        ],
    )
    grading = _entry("bob", 20, W.GRADING, started_at=NOW - datetime.timedelta(minutes=1))
    _fill(tmp_path, OTHER, [_entry("alice", 1, W.WAITING), grading])
    return tmp_path


def _app(course: Path):
    config = StatusConfig(
        course_root=course,
        assignments=(ASSIGNMENT, OTHER),
        max_graded_per_hour=2,
        service_name=SERVICE,
        clock=lambda: NOW,
    )
    return status_service.make_app(config, hub_auth=_hub(), prefix=PREFIX)


def _get(app, path: str = PREFIX, headers: dict[str, str] | None = None) -> HTTPResponse:
    """GET ``path`` from ``app`` served on a loopback port; no redirect is followed."""

    async def fetch() -> HTTPResponse:
        sockets = bind_sockets(0, "127.0.0.1")
        server = HTTPServer(app)
        server.add_sockets(sockets)
        client = AsyncHTTPClient(force_instance=True)
        try:
            return await client.fetch(
                f"http://127.0.0.1:{sockets[0].getsockname()[1]}{path}",
                headers=headers,
                follow_redirects=False,
                raise_error=False,
            )
        finally:
            client.close()
            server.stop()

    # In a thread of its own: while the browser tests' Chromium lives (a session fixture),
    # Playwright's sync API keeps an event loop running in this one, and asyncio.run refuses.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, fetch()).result()


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


def _text(response: HTTPResponse) -> str:
    return response.body.decode("utf-8")


# -- the attacks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        _as("a-token-the-hub-does-not-know"),
        {"Cookie": f"service-{SERVICE}=alice-token"},  # the token, but not signed by the service
        {
            "Cookie": f"service-{SERVICE}="
            + create_signed_value("guess", "x", "alice-token").decode()
        },
    ],
    ids=["nothing", "unknown-token", "unsigned-cookie", "cookie-signed-elsewhere"],
)
def test_a_request_without_a_hub_login_is_sent_to_log_in_and_gets_no_data(course, headers):
    for path in (PREFIX, f"{PREFIX}?student=alice"):
        response = _get(_app(course), path, headers)
        assert response.code == 302, (path, response.code)
        assert response.headers["Location"].startswith("/hub/api/oauth2/authorize?")
        assert "alice" not in _text(response) and "16" not in _text(response)
    response = _get(_app(course), f"{PREFIX}alice", headers)
    assert response.code == 404 and "alice" not in _text(response)


@pytest.mark.parametrize("token", ["eve-token", "culler-token"])
def test_a_hub_identity_that_is_no_student_with_access_is_refused(course, token):
    """Are a user without the service's access scope and another service (a token of the
    hub's, not a student's) refused?"""
    response = _get(_app(course), PREFIX, _as(token))
    assert response.code == 403
    assert "alice" not in _text(response) and "bob" not in _text(response)


def test_a_student_sees_only_their_own_submissions_whatever_the_address_says(course):
    response = _get(_app(course), f"{PREFIX}bob", _as("alice-token"))
    assert response.code == 404 and "bob" not in _text(response), "one address, no other"
    for path in (PREFIX, f"{PREFIX}?student=bob", f"{PREFIX}?user=bob"):
        response = _get(_app(course), path, _as("alice-token"))
        assert response.code == 200, path
        page = _text(response)
        assert "16 / 16" in page, "alice's own graded submission"
        for classmates in ("bob", "carol", "3 / 16", "kernel died", "mallory"):
            assert classmates not in page, (path, classmates)


def test_markup_in_a_reason_or_a_name_is_shown_as_text(course):
    page = _text(_get(_app(course), PREFIX, _as("alice-token")))
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page
    assert "<script" not in page and "<img" not in page
    page = _text(_get(_app(course), PREFIX, _as("markup-token")))
    assert "&lt;b&gt;mallory&lt;/b&gt;" in page and "<b>mallory" not in page

    assert "script-src" not in SECURITY_HEADERS["Content-Security-Policy"]
    assert "default-src 'none'" in SECURITY_HEADERS["Content-Security-Policy"]


def test_the_login_cookie_the_service_signed_names_the_student(course):
    """Is the cookie the OAuth callback sets (the token, signed with the app's secret) what
    identifies a browser?"""
    app = _app(course)
    cookie = create_signed_value(app.settings["cookie_secret"], f"service-{SERVICE}", "bob-token")
    page = _text(_get(app, PREFIX, {"Cookie": f"service-{SERVICE}={cookie.decode()}"}))
    assert "Submissions of bob" in page and "3 / 16" in page and "alice" not in page


@pytest.mark.parametrize(
    "url", ["http://0.0.0.0:8001", "http://192.0.2.7:8001", "https://127.0.0.1:8001", ""]
)
def test_the_service_listens_on_loopback_only(url):
    assert status_service.loopback_port("http://127.0.0.1:8001") == 8001
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        status_service.loopback_port(url)


# -- what the page says ----------------------------------------------------------------------


def test_the_page_says_where_each_of_the_students_submissions_stands_newest_first(course):
    response = _get(_app(course), PREFIX, _as("alice-token"))
    assert response.headers["Cache-Control"] == "no-store"
    page = _text(response)
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", page)
    assert rows == [
        ("2026-12-04 09:59:00 UTC", OTHER, "queued, position 1 of 1"),
        (
            "2026-12-04 09:58:00 UTC",
            ASSIGNMENT,
            "held by the hourly limit (at most 2 graded per hour) until 10:40 UTC",
        ),
        ("2026-12-04 09:56:00 UTC", ASSIGNMENT, f"not graded: {html.escape(HOSTILE_REASON)}"),
        (
            "2026-12-04 09:10:00 UTC",
            ASSIGNMENT,
            "graded: 16 / 16; counts: the latest submission counts (counts = latest)",
        ),
    ]
    assert '<meta http-equiv="refresh" content="10">' in page
    assert "Fetch Feedback" in page and "Assignments tab" in page


def test_a_queued_submission_is_told_its_place_in_the_order_the_watcher_grades(course):
    """Is a waiting submission's position the one Admission.choose takes it in: one per
    student, by student, those held by the hourly limit left out?"""
    page = _text(_get(_app(course), PREFIX, _as("bob-token")))
    assert "queued, position 1 of 2" in page, "bob before carol; alice's is held"
    assert "being graded (since" in page, "bob's other assignment"
    W = watch.QueueState
    entries = [
        _entry("carol", 3, W.WAITING),
        _entry("bob", 9, W.WAITING),
        _entry("bob", 5, W.WAITING),
        _entry("alice", 2, W.WAITING, not_before=NOW + datetime.timedelta(minutes=5)),
    ]
    turns = admission.grading_turns(entries, NOW)
    assert [(e.student, e.timestamp) for e in turns] == [
        ("bob", entries[2].timestamp),
        ("carol", entries[0].timestamp),
    ]
    assert admission.grading_turns(entries, NOW + datetime.timedelta(minutes=6))[0].student == (
        "alice"
    ), "held no more: its turn comes"


def test_a_student_with_no_submission_and_an_unreadable_queue_is_told_so(tmp_path):
    _fill(tmp_path, ASSIGNMENT, [_entry("bob", 5, watch.QueueState.WAITING)])
    other = watch.store.queue_folder(tmp_path, OTHER)
    other.mkdir(parents=True, mode=0o700)
    (other / watch.store.DATABASE).symlink_to(tmp_path / "elsewhere")
    page = _text(_get(_app(tmp_path), PREFIX, _as("alice-token")))
    assert "No submission of yours has reached the grader yet." in page
    assert f"The queue of {OTHER} cannot be read now" in page
    assert str(tmp_path) not in page, "no path of the instructor's"


def test_a_graded_submission_says_how_its_grading_ended_and_why_it_does_not_count():
    entry = _entry(
        "alice",
        5,
        watch.QueueState.DONE,
        status=Status.CELL_TIMEOUT,
        score=10.0,
        max_score=16.0,
        counts=False,
        counting="late by 2 h; scored 10/16 after the penalty, not above the on-time 12/16",
    )
    words = status_page.standing(entry, turns=[], now=NOW, max_graded_per_hour=4)
    assert words == (
        "graded: 10 / 16 (cell_timeout); does not count: late by 2 h; scored 10/16 after the"
        " penalty, not above the on-time 12/16"
    )
