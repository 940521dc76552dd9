"""A class's term on the class hub, in real Chromium (slow).

The hub starts with the command of docs/class-hub.md on loopback, in a temporary state folder.
Two students and the instructor log in (separate browser contexts). The instructor checks the
course settings and releases the assignment with the page's commands, typed into a terminal of
their JupyterLab; the hub's watcher service, waiting for the release, starts grading. The
students fetch the assignment in the Assignments tab, answer it (one correctly, one with the
naive softmax of the sample submissions), validate and submit it there; the watcher grades
both; each student fetches their feedback, reads their own score there and on the hub's
status page, and cannot read the other's.
The instructor's Formgrader, opened from the menu, lists the submissions by name and takes a
comment; the exports list every student by name; the instructor sets the due date to now with
a zero late penalty, the hub restarts and its watcher grades the next, late submission by
itself, which does not replace the on-time grade (the queue and the status page say why, the
export keeps the full score); a third within the hour waits for the hourly limit (2 in the
course settings written before the start), and the status page says until when. A screenshot
of each step is kept in tests/browser/screenshots/hub/.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import csv
import datetime
import json
import os
import pwd
import shlex
import tempfile
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from hub_harness import ClassHub, can_run_hub, readme_hub_blocks
from nbgrader.api import Comment, Gradebook
from traitlets.config.loader import PyFileConfigLoader

from autograder.hub.accounts import Account, ensure_account, unreachable
from autograder.hub.auth import ClassPasswordAuthenticator, ensure_passwords
from autograder.hub.config import HubSettings, course_config_text, hub_config_text
from autograder.hub.layout import COURSE_CONFIG, SOURCE_DIRECTORY, HubLayout
from autograder.hub.prepare import HubSetupError, course_id_of, prepare_hub
from autograder.hub.roster import DEFAULT_CLASS_FILE, RosterError, load_roster
from autograder.hub.settings import SETTINGS_FILE
from autograder.hub.status_service import SERVICE as STATUS_SERVICE
from autograder.kernel import specs

from .conftest import SCREENSHOTS, SKIP_REASON
from .jupyterlab import CHROMIUM, CHROMIUM_ARGS, VIEWPORT
from submissions import make_submissions

# Runs a command in a new terminal of the member's server (JupyterLab's terminal REST API and
# websocket, with the page's own login) and reads the terminal until the command's status.
TERMINAL_JS = """async ({base, command, timeoutMs}) => {
    const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1];
    const headers = xsrf ? {'X-XSRFToken': decodeURIComponent(xsrf)} : {};
    const made = await fetch(base + 'api/terminals', {method: 'POST', headers});
    if (!made.ok) throw new Error('cannot open a terminal: ' + made.status);
    const {name} = await made.json();
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}${base}terminals/websocket/${name}`);
    let out = '';
    const finished = new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve(null), timeoutMs);
        ws.onmessage = (event) => {
            const [kind, text] = JSON.parse(event.data);
            if (kind !== 'stdout') return;
            out += text;
            const end = out.match(/__DONE__ (\\d+)/);
            if (end) { clearTimeout(timer); resolve(Number(end[1])); }
        };
        ws.onerror = () => reject(new Error('terminal websocket failed'));
    });
    await new Promise((resolve) => { ws.onopen = resolve; });
    ws.send(JSON.stringify(['stdin', command + '; echo "__DO""NE__ $?"\\r']));
    const status = await finished;
    ws.close();
    await fetch(base + 'api/terminals/' + name, {method: 'DELETE', headers});
    return {status, out};
}"""


def end_to_end(test):
    """Mark the browser test: slow, Chromium needed, 15 minutes at most."""
    for mark in (
        pytest.mark.browser,
        pytest.mark.slow,
        pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
        pytest.mark.timeout(900),
    ):
        test = mark(test)
    return test


ASSIGNMENT = "C2_W2_Assignment"
SHOTS = SCREENSHOTS / "hub"
#: Which sample submission each of the two students hands in.
SOLVED, WRONG = "passes_all", "naive_softmax"
#: Seconds to wait for a JupyterLab server to start, a notebook to validate, feedback to come.
SPAWN_S, VALIDATE_S, FEEDBACK_S = 150, 300, 300


#: Submissions graded per student per hour: the solver's third is held.
HOURLY_LIMIT = 2
COURSE_SETTINGS = f"max_graded_per_hour = {HOURLY_LIMIT}\n[assignments.{ASSIGNMENT}]\n"
#: The status page's address on the hub.
STATUS_PAGE = f"/services/{STATUS_SERVICE}/"


def expected_score(sample: str) -> float:
    return sum(make_submissions.expected_scores()[sample].values())


def late_settings(due: datetime.datetime) -> str:
    """Return the course settings once ``due`` has passed: a late submission scores 0."""
    return (
        f'max_graded_per_hour = {HOURLY_LIMIT}\nlate_penalty = "zero"\n'
        f"[assignments.{ASSIGNMENT}]\ndue = {due:%Y-%m-%dT%H:%M:%SZ}\n"
    )


def exported_score(hub: ClassHub, instructor: str, export_block: str, student: str) -> float:
    """Run the exports as the instructor; return ``student``'s score (after any penalty)."""
    exported = hub.run_as(instructor, export_block)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    with (hub.layout.course_root / "grades.csv").open(encoding="utf-8") as rows:
        (score,) = [
            float(row["score"])
            for row in csv.DictReader(rows)
            if row["assignment"] == ASSIGNMENT and row["student_id"] == student
        ]
    return score


@pytest.fixture(scope="module")
def hub():
    """Start the hub with the page's first command; stop it and remove its state after."""
    reason = can_run_hub()
    if reason:
        pytest.skip(reason)
    start_block = readme_hub_blocks()[0].strip()
    assert "\n" not in start_block, "the page starts the hub with one command"
    started = ClassHub(start_block)
    # The instructor's course settings, written before the first start: the hub's defaults
    # but for a lower hourly limit, which the term's last submission runs into.
    instructor = ensure_account(load_roster().instructor)
    course = started.layout.course_root
    course.mkdir(parents=True)
    (course / SETTINGS_FILE).write_text(COURSE_SETTINGS, encoding="utf-8")
    for path in (course, course / SETTINGS_FILE):
        os.chown(path, instructor.uid, instructor.gid)
    started.start()
    yield started
    leftovers = started.stop()
    started.remove_state()
    assert not started.state.exists()
    assert leftovers == [], f"class processes outlived the hub: {leftovers}"


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True
        )
        yield launched
        launched.close()


class Member:
    """One member of the class in their own browser context (own cookies)."""

    def __init__(self, browser, hub: ClassHub, name: str):
        self.hub = hub
        self.name = name
        self.context = browser.new_context(viewport=VIEWPORT)
        self.context.set_default_timeout(60_000)
        self.page = self.context.new_page()

    def shot(self, step: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{step}.png"
        self.page.screenshot(path=str(path))
        return path

    def log_in(self) -> Member:
        """Log in on the hub's page (the hub then starts this member's JupyterLab)."""
        self.page.goto(f"{self.hub.url}/hub/login")
        self.page.fill("#username_input", self.name)
        self.page.fill("#password_input", self.hub.password(self.name))
        self.page.click("#login_submit")
        return self

    def wait_for_lab(self) -> Member:
        self.page.wait_for_url(f"**/user/{self.name}/lab**", timeout=SPAWN_S * 1000)
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").wait_for()
        return self

    def terminal(self, command: str, timeout_s: float = 300) -> tuple[int | None, str]:
        """Type ``command`` into a new terminal of this member's JupyterLab; return its exit
        status (None on timeout) and what the terminal showed."""
        result = self.page.evaluate(
            TERMINAL_JS,
            {"base": f"/user/{self.name}/", "command": command, "timeoutMs": timeout_s * 1000},
        )
        return result["status"], result["out"]

    def dismiss_stray_dialogs(self) -> None:
        """Close, and print, a JupyterLab dialog nobody asked for: once in four CI runs the
        instructor's page showed 'Directory not found: ""' over the menu (cause not known)."""
        for dialog in self.page.locator(".jp-Dialog").all():
            print(f"{self.name}'s JupyterLab showed a dialog: {dialog.inner_text()[:200]!r}")
            self.page.keyboard.press("Escape")

    def nbgrader_menu(self) -> list[str]:
        """Return the labels of JupyterLab's Nbgrader menu."""
        self.dismiss_stray_dialogs()
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
        labels = [t for t in self.page.locator(".lm-Menu-itemLabel").all_inner_texts() if t]
        self.page.keyboard.press("Escape")
        return labels

    def open_assignments(self) -> None:
        """Open the Assignments tab (Nbgrader > Assignment List)."""
        self.dismiss_stray_dialogs()
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
        self.page.locator(".lm-Menu-itemLabel", has_text="Assignment List").first.click()
        self.page.locator("#released_assignments_list").wait_for()

    def refresh_assignments(self) -> None:
        self.page.locator("#refresh_assignments_list").click()
        self.page.wait_for_timeout(1500)

    def fetch(self) -> None:
        self.page.locator("#released_assignments_list button", has_text="Fetch").click()
        self.page.locator(
            "#fetched_assignments_list .list_item", has_text=ASSIGNMENT
        ).first.wait_for()

    def validate(self) -> None:
        """Press Validate beside the fetched notebook (the dialog comes when it has run)."""
        self.page.locator("#fetched_assignments_list a.assignment-notebooks-link").first.click()
        self.page.locator("#fetched_assignments_list button", has_text="Validate").first.click()

    def validation_result(self) -> str:
        dialog = self.page.locator(".jp-Dialog", has_text="Validat")
        dialog.wait_for(timeout=VALIDATE_S * 1000)
        return dialog.inner_text()

    def close_dialog(self) -> None:
        self.page.locator(".jp-Dialog .jp-Dialog-button").last.click()

    def submit(self) -> None:
        self.page.locator("#fetched_assignments_list button", has_text="Submit").first.click()
        self.page.locator(
            "#submitted_assignments_list .list_item", has_text=ASSIGNMENT
        ).first.wait_for()

    def fetch_feedback(self, timeout_s: float = FEEDBACK_S) -> None:
        """Refresh the Assignments tab until it offers the feedback, then fetch it."""
        submitted = self.page.locator("#submitted_assignments_list")
        deadline = time.monotonic() + timeout_s
        while "feedback available to fetch" not in submitted.inner_text():
            assert time.monotonic() < deadline, f"no feedback for {self.name} in {timeout_s} s"
            self.page.wait_for_timeout(3000)
            self.refresh_assignments()
        self.shot(f"05_{self.name}_feedback_available")
        submitted.locator("button", has_text="Fetch Feedback").first.click()
        submitted.locator("a", has_text="view feedback").first.wait_for()

    def open_feedback(self):
        """Follow "view feedback" to the file browser and open the page in JupyterLab's HTML
        viewer; return its frame."""
        self.page.locator("#submitted_assignments_list a", has_text="view feedback").first.click()
        self.page.locator(".jp-DirListing-item", has_text=f"{ASSIGNMENT}.html").first.dblclick()
        frame = self.page.frame_locator(".jp-HTMLViewer iframe, .jp-MainAreaWidget iframe").first
        frame.locator("#nn-summary-title").wait_for()
        return frame

    def status_page(self, step: str) -> str:
        """Open the hub's status page in a new tab (the hub's login carries over through its
        OAuth); return its text, and keep a screenshot."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        tab = self.context.new_page()
        response = tab.goto(f"{self.hub.url}{STATUS_PAGE}")
        assert response.status == 200, response.status
        tab.get_by_text(f"Submissions of {self.name}").wait_for()
        tab.screenshot(path=str(SHOTS / f"{step}.png"))
        text = tab.locator("body").inner_text()
        tab.close()
        return text

    def close(self) -> None:
        self.context.close()


def answer(hub: ClassHub, student: str, sample: str, *, markdown: str = "") -> Path:
    """Write the sample's answers (and a Markdown cell) into the student's fetched notebook."""
    path = hub.layout.home(student) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    owner = path.stat()
    fetched = nbformat.read(path, as_version=4)
    answered = make_submissions.make_submission(fetched, make_submissions.SUBMISSIONS[sample])
    if markdown:
        answered.cells.append(nbformat.v4.new_markdown_cell(markdown))
    nbformat.write(answered, path)
    os.chown(path, owner.st_uid, owner.st_gid)
    return path


#: A Markdown cell the naive student adds: script and handler the instructor's Formgrader must
#: not run when it shows the submission.
HOSTILE_MARKDOWN = (
    "Nothing to see here.\n\n<script>window.nnPwned = 'script';</script>\n"
    "<img src=x onerror=\"window.nnPwned = 'img'\">"
)

#: What a student runs from their terminal against every loopback port that listens (issue 19,
#: finding 1): call the handler that runs a function on a Dask scheduler ("run_function") or
#: worker and nanny ("run"), all ports at once. Prints each port tried, and OWNED for any that
#: ran it (it does against a plain-TCP cluster: tested by hand, scheduler, worker and nanny).
PORT_PROBE = """
import asyncio, os
from distributed.core import rpc
from distributed.protocol.pickle import dumps

ports = set()
with open("/proc/net/tcp") as table:
    for line in list(table)[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and local.startswith("0100007F:"):
            ports.add(int(local.split(":")[1], 16))
print("tried", *sorted(ports), flush=True)

async def attack(port):
    # Run os.getpid on whatever Dask server listens at port: scheduler, worker or nanny.
    async with rpc(f"tcp://127.0.0.1:{port}", timeout=3) as remote:
        for handler in ("run_function", "run"):
            try:
                reply = await asyncio.wait_for(getattr(remote, handler)(function=dumps(os.getpid)), 5)
            except Exception:
                continue
            if isinstance(reply, int) or (isinstance(reply, dict) and reply.get("status") == "OK"):
                return port

async def main():
    tries = [asyncio.wait_for(attack(p), 10) for p in sorted(ports)]
    for port in await asyncio.gather(*tries, return_exceptions=True):
        if isinstance(port, int):
            print("OWNED", port)
    print("probe done")

asyncio.run(main())
"""


def typed_python(script: str) -> str:
    """Return a one-line shell command that runs ``script`` with the terminal's python."""
    encoded = base64.b64encode(script.encode()).decode()
    return f"echo {encoded} | base64 -d > probe.py && python probe.py; rm -f probe.py"


def listening_ports(user: str) -> set[int]:
    """Return the loopback TCP ports on which ``user``'s processes listen."""
    uid = pwd.getpwnam(user).pw_uid
    ports = set()
    for conn in psutil.net_connections(kind="tcp4"):
        if conn.status != psutil.CONN_LISTEN or not conn.pid or conn.laddr.ip != "127.0.0.1":
            continue
        with contextlib.suppress(psutil.Error):
            if psutil.Process(conn.pid).uids().real == uid:
                ports.add(conn.laddr.port)
    return ports


def queue(hub: ClassHub) -> list[dict]:
    """Return the watcher's queue, as the instructor's ``nn-autograde queue --json`` shows it."""
    shown = hub.run_as(hub.settings.instructor, f"nn-autograde queue {ASSIGNMENT} --json")
    assert shown.returncode == 0, shown.stderr
    return [json.loads(line) for line in shown.stdout.splitlines() if line.startswith("{")]


def queue_entries(hub: ClassHub, ids: set[str], timeout_s: float = 120) -> dict[str, dict]:
    """Wait until the watcher's queue holds the inbound folders ``ids`` as ended; return them."""
    deadline = time.monotonic() + timeout_s
    while True:
        entries = {e["id"]: e for e in queue(hub)}
        found = {i: entries[i] for i in ids if i in entries}
        if len(found) == len(ids) and all(e["state"] != "waiting" for e in found.values()):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"the watcher did not take up {ids}: {entries}")
        time.sleep(2)


@end_to_end
def test_a_class_submits_and_reads_its_feedback_on_the_hub(hub, browser):
    blocks = readme_hub_blocks()
    assert len(blocks) == 5, "start, settings, release, the watcher's state, export: five blocks"
    settings_block, release_block, watcher_block, export_block = blocks[1:]
    roster = hub.settings.roster
    # The class file the hub started with (the page's command names none: the default), for
    # the students' names and emails.
    people = load_roster()
    assert people.students == roster.students
    instructor = roster.instructor
    solver, wrong = roster.students[:2]
    timings: dict[str, float] = {}
    started = time.monotonic()

    def lap(step: str) -> None:
        timings[step] = time.monotonic() - started

    students = {solver: Member(browser, hub, solver), wrong: Member(browser, hub, wrong)}
    teacher = Member(browser, hub, instructor)
    # Everybody logs in at once; the hub starts their servers side by side.
    for member in (*students.values(), teacher):
        member.log_in()
    for member in (*students.values(), teacher):
        member.wait_for_lab()
    lap("logged in")

    # The instructor opens a terminal in JupyterLab: it starts in the course root, with the
    # course's nbgrader first on PATH. There they release the assignment (the page's block 2) ...
    status, where = teacher.terminal("pwd; command -v nbgrader nn-autograde")
    assert status == 0, where
    assert str(hub.layout.course_root) in where
    assert f"{hub.settings.venv_bin}/nbgrader" in where, where
    # The course's settings are theirs, in the course root: they check them (the page's block 2)
    # ...
    status, printed = teacher.terminal(settings_block.strip())
    assert status == 0 and f"{ASSIGNMENT}: graded on submission" in printed, printed
    # ... and release the assignment (block 3); the hub's watcher service, which waited for
    # the release, becomes the watcher.
    status, printed = teacher.terminal(" && ".join(release_block.strip().splitlines()))
    assert status == 0 and "Released as: nn-training-c2w2 C2_W2_Assignment" in printed, printed
    lap("released")
    watcher = hub.wait_for_watcher(ASSIGNMENT)
    # A student's terminal runs the students' environment (the package from a wheel), and the
    # source notebook, with the solutions and the hidden tests, is out of its reach.
    source = SOURCE_DIRECTORY / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    status, shown = students[solver].terminal(
        f"command -v python nbgrader; cat {shlex.quote(str(source))}"
    )
    assert status != 0 and f"{source}: Permission denied" in shown, shown
    assert f"{hub.settings.students_bin}/nbgrader" in shown, shown
    assert "BEGIN SOLUTION" not in shown, "a student read the solutions"
    # Neither sees the instructor's tools: not in the menu, not on the server.
    response = students[solver].page.request.get(f"{hub.url}/user/{solver}/formgrader")
    assert response.status == 404, response.status
    for member in students.values():
        labels = member.nbgrader_menu()
        assert "Assignment List" in labels
        assert not [label for label in labels if "Formgrader" in label], labels
        member.open_assignments()
        member.shot(f"01_{member.name}_assignments")
        member.fetch()
        member.shot(f"02_{member.name}_fetched")
    lap("fetched")

    # The students answer: one with the stable softmax, one with the naive one.
    answer(hub, solver, SOLVED)
    answer(hub, wrong, WRONG, markdown=HOSTILE_MARKDOWN)
    for member in students.values():
        member.validate()
    results = {name: member.validation_result() for name, member in students.items()}
    assert "Success" in results[solver], results[solver]
    for member in students.values():
        member.shot(f"03_{member.name}_validated")
        member.close_dialog()
        member.submit()
        member.shot(f"04_{member.name}_submitted")
    lap("validated and submitted")

    # The watcher grades both and releases the feedback; each student fetches theirs.
    max_score = expected_score(SOLVED)
    assert max_score == sum(spec.points for spec in specs.SPECS)
    for name, sample in ((solver, SOLVED), (wrong, WRONG)):
        member = students[name]
        member.fetch_feedback()
        title = member.open_feedback().locator("#nn-summary-title").inner_text()
        member.shot(f"06_{name}_feedback")
        assert f"{expected_score(sample):g} / {max_score:g} points" in title, title
    # The status page (the hub's Services menu) shows each their graded submission, and
    # nothing of the other's.
    for name, sample in ((solver, SOLVED), (wrong, WRONG)):
        shown = students[name].status_page(f"06_{name}_status_page")
        assert f"graded: {expected_score(sample):g} / {max_score:g}; counts" in shown, shown
        assert ({solver, wrong} - {name}).pop() not in shown, shown
    lap("feedback read")

    # The naive student attacks from their terminal. Finding 1: every loopback port that
    # listens, the watcher's Dask cluster among them, as a Dask client: none runs their code.
    grader_ports = listening_ports(instructor)
    status, probed = students[wrong].terminal(typed_python(PORT_PROBE), timeout_s=180)
    assert "probe done" in probed and "OWNED" not in probed, probed
    tried = {
        int(p) for line in probed.splitlines() if line.startswith("tried") for p in line.split()[1:]
    }
    assert grader_ports and grader_ports <= tried, (grader_ports, tried)
    # Finding 2 (and 3): an inbound "submission" that is a link to the source folder, and a
    # future-dated folder under the solver's name. The watcher fails both, with reasons,
    # and neither changes a grade or the watcher's life.
    inbound = hub.layout.exchange / roster.course_id / "inbound"
    link = f"{wrong}+{ASSIGNMENT}+{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())}.000000 UTC+ln"
    forged = f"{solver}+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+fk"
    status, shown = students[wrong].terminal(
        f"cd {shlex.quote(str(inbound))} && "
        f"ln -s {shlex.quote(str(SOURCE_DIRECTORY / ASSIGNMENT))} {shlex.quote(link)} && "
        f"mkdir {shlex.quote(forged)} && cp ~/{ASSIGNMENT}/{ASSIGNMENT}.ipynb {shlex.quote(forged)}/"
    )
    assert status == 0, shown
    ended = queue_entries(hub, {link, forged})
    for entry in ended.values():
        assert entry["state"] == "failed" and entry["reason"], entry
    assert watcher.is_running(), "the watcher died"
    lap("classmate attacks")

    # The instructor sees the watcher's queue and log (block 4).
    shown = hub.run_as(instructor, watcher_block)
    assert shown.returncode == 0, shown.stderr
    assert f"watcher service of {ASSIGNMENT} started" in shown.stdout, shown.stdout
    assert solver in shown.stdout and wrong in shown.stdout, shown.stdout
    print(shown.stdout[-2000:])

    # Neither student can read the other's feedback: not through the hub ...
    solver_home = hub.layout.home(solver)
    solver_feedback = sorted((solver_home / ASSIGNMENT / "feedback").rglob("*.html"))
    assert solver_feedback, "the feedback was fetched into the student's folder"
    relative = solver_feedback[0].relative_to(solver_home).as_posix()
    intruder = students[wrong].page
    response = intruder.goto(f"{hub.url}/user/{solver}/files/{relative}")
    intruder.screenshot(path=str(SHOTS / f"07_{wrong}_opens_{solver}_feedback.png"))
    assert response.status in (403, 404), response.status
    assert intruder.locator("#nn-summary-title").count() == 0
    # ... nor as their Unix account: the other's folder, the exchange's feedback and inbound,
    # the instructor's gradebook.
    exchange = hub.layout.exchange / roster.course_id
    gradebook = hub.layout.course_root / "gradebook.db"
    for path in (solver_feedback[0], exchange / "feedback", exchange / "inbound", gradebook):
        tried = hub.run_as(wrong, f"ls -l {path} || cat {path}")
        assert tried.returncode != 0, f"{wrong} could read {path}: {tried.stdout}"
        assert "Permission denied" in tried.stderr
    # The solver's browser stays logged in for the term's last step, its JupyterLab closed.
    students[wrong].close()
    students[solver].page.goto("about:blank")

    # The instructor's Formgrader opens from the menu, inside JupyterLab; from its list of
    # assignments to the submissions, listed by the students' names (the roster is in the
    # gradebook), to the solver's notebook, where the instructor adds a comment.
    assert [label for label in teacher.nbgrader_menu() if "Formgrader" in label]
    teacher.page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
    teacher.page.locator(".lm-Menu-itemLabel", has_text="Formgrader").first.click()
    framed = teacher.page.frame_locator("iframe[src*='formgrader']").first
    framed.get_by_text("Manage Assignments").first.wait_for()
    teacher.shot("08_formgrader_from_the_menu")
    framed.locator(f"a[href$='/formgrader/manage_submissions/{ASSIGNMENT}']").first.click()
    for name in (solver, wrong):
        student = people.student(name)
        framed.locator(
            "td a", has_text=f"{student.last_name}, {student.first_name}"
        ).first.wait_for()
    assert framed.locator("td", has_text="None, None").count() == 0
    teacher.shot("08_formgrader_submissions_by_name")
    # By its address, not its place: the table sorts itself after it has drawn its rows.
    framed.locator(f"a[href$='/formgrader/manage_students/{solver}/{ASSIGNMENT}']").click()
    framed.locator("a[href*='/formgrader/submissions/']").first.click()
    comment = framed.locator("textarea.comment").first
    comment.wait_for()
    saved: list[str] = []  # the comments the Formgrader's API was asked to save
    teacher.page.on(
        "response",
        lambda r: (
            saved.append(r.url.rsplit("/", 1)[-1])
            if r.request.method == "PUT" and "/formgrader/api/comment/" in r.url and r.ok
            else None
        ),
    )
    remark = "Well done: the maximum is subtracted before exp."
    comment.fill(remark)
    comment.press("Tab")  # the Formgrader saves a comment when it loses focus
    gradebook = f"sqlite:///{hub.layout.course_root / 'gradebook.db'}"
    deadline = time.monotonic() + 30
    while not saved:
        assert time.monotonic() < deadline, "the Formgrader saved no comment"
        teacher.page.wait_for_timeout(500)
    with Gradebook(gradebook) as gb:
        kept = gb.db.query(Comment).filter(Comment.id == saved[-1]).one()
        assert kept.manual_comment == remark
        commented = kept.notebook.student.id
    assert commented == solver, f"the Formgrader showed {commented}'s submission"
    teacher.shot("09_formgrader_manual_comment")
    # ... and shows the naive student's submission, whose Markdown holds a script and an
    # onerror handler, as text: nothing of it runs in the instructor's JupyterLab origin.
    with Gradebook(gradebook) as gb:
        submitted = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, wrong).id
    shown = teacher.page.goto(f"{hub.url}/user/{instructor}/formgrader/submissions/{submitted}")
    assert shown.status == 200, shown.status
    teacher.page.get_by_text("Nothing to see here.").first.wait_for()
    teacher.page.wait_for_timeout(1000)
    teacher.shot("10_formgrader_hostile_submission")
    assert teacher.page.evaluate("window.nnPwned") is None, "the student's script ran"
    teacher.close()
    lap("formgrader")

    # The exports (block 5): a row for every student of the class, by name, the one who never
    # submitted included.
    exported = hub.run_as(instructor, export_block)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    absent = [name for name in roster.students if name not in (solver, wrong)]
    assert absent, "the class file has a student who never submits"
    with (hub.layout.course_root / "grades.csv").open(encoding="utf-8") as rows:
        scores = {
            row["student_id"]: (row["last_name"], float(row["raw_score"]))
            for row in csv.DictReader(rows)
            if row["assignment"] == ASSIGNMENT
        }
    expected = {solver: expected_score(SOLVED), wrong: expected_score(WRONG)}
    assert scores == {
        name: (people.student(name).last_name, expected.get(name, 0.0)) for name in roster.students
    }
    reports = hub.layout.course_root / "reports"
    with (reports / f"{ASSIGNMENT}-canvas.csv").open(encoding="utf-8") as rows:
        canvas = {row[3]: (row[0], row[5]) for row in list(csv.reader(rows))[2:]}
    with (reports / f"{ASSIGNMENT}-moodle.csv").open(encoding="utf-8") as rows:
        moodle = {row[0]: row[1] for row in list(csv.reader(rows))[1:]}
    for name in roster.students:
        student = people.student(name)
        total = f"{expected[name]:g}" if name in expected else ""  # no due date: not missed yet
        assert canvas[name] == (f"{student.last_name}, {student.first_name}", total)
        assert moodle[name] == student.email
    lap("exported")

    # The due date passes: the instructor sets it to now, with the harshest late penalty, in
    # their course settings; the hub restarts mid-term and its watcher service comes back by
    # itself and grades the next submission (the solver's, handed in from their terminal, now
    # late) with nobody touching it. Under the default rule the late 0 does not replace the
    # on-time full score, and the queue says why.
    due = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    settings_path = hub.layout.course_root / SETTINGS_FILE
    settings_path.write_text(late_settings(due), encoding="utf-8")  # still the instructor's file
    before = {e["id"] for e in queue(hub)}
    leftovers = hub.stop()
    assert leftovers == [], f"class processes outlived the hub: {leftovers}"
    assert not hub.watchers(ASSIGNMENT)
    hub.start()
    lap("hub restarted")
    hub.wait_for_watcher(ASSIGNMENT, timeout_s=SPAWN_S)
    handed_in = hub.run_as(solver, f"nbgrader submit {ASSIGNMENT}")
    assert handed_in.returncode == 0, handed_in.stderr[-3000:]
    deadline = time.monotonic() + FEEDBACK_S
    while not [e for e in queue(hub) if e["id"] not in before and e["state"] == "done"]:
        assert time.monotonic() < deadline, f"not graded after the restart: {queue(hub)}"
        time.sleep(3)
    (late,) = [e for e in queue(hub) if e["id"] not in before]
    assert late["student"] == solver, late
    assert late["counts"] is False, late
    full = f"{expected_score(SOLVED):g}/{expected_score(SOLVED):g}"
    assert late["counting"].startswith("late by "), late
    assert f"scored 0/{expected_score(SOLVED):g} after the penalty" in late["counting"], late
    assert f"not above the on-time {full} of the submission of" in late["counting"], late
    lap("graded late after the restart")

    # A third submission within the hour is over the limit: it waits, and the solver's status
    # page (the browser still logged in to the restarted hub) says until when.
    before = {e["id"] for e in queue(hub)}
    handed_in = hub.run_as(solver, f"nbgrader submit {ASSIGNMENT}")
    assert handed_in.returncode == 0, handed_in.stderr[-3000:]
    deadline = time.monotonic() + 60
    while not (held := [e for e in queue(hub) if e["id"] not in before and e["not_before"]]):
        assert time.monotonic() < deadline, f"not held by the hourly limit: {queue(hub)}"
        time.sleep(2)
    until = datetime.datetime.fromisoformat(held[0]["not_before"])
    shown = students[solver].status_page(f"11_{solver}_status_page_held")
    assert (
        f"held by the hourly limit (at most {HOURLY_LIMIT} graded per hour) until {until:%H:%M} UTC"
    ) in shown, shown
    assert f"does not count: {late['counting']}" in shown, shown  # the late one, and why
    students[solver].close()
    lap("held by the hourly limit")

    # The gradebook keeps the on-time full score (the watcher puts that submission back once
    # the late one is graded): the export says so.
    deadline = time.monotonic() + FEEDBACK_S
    while (kept := exported_score(hub, instructor, export_block, solver)) != expected_score(SOLVED):
        assert time.monotonic() < deadline, f"the export says {kept} for {solver}"
        time.sleep(3)
    lap("on-time grade kept")
    print(
        "class hub, seconds since the start: "
        + ", ".join(f"{k} {v:.0f}" for k, v in timings.items())
    )


# -- the parts, without a hub ------------------------------------------------------------


def load_config(path: Path):
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


def test_the_class_file_names_the_courses_id_and_recognisable_accounts():
    roster = load_roster()
    assert roster.course_id == course_id_of() == "nn-training-c2w2"
    assert all(name.startswith("nnc-") for name in roster.users)
    assert len(roster.students) >= 2


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('course_id = "c"\ninstructor = "t"\nstudents = ["a", "a"]\n', "listed twice"),
        ('course_id = "c"\ninstructor = "t"\nstudents = ["t"]\n', "both the instructor"),
        ('course_id = "c"\ninstructor = "t"\nstudents = ["Ann Lee"]\n', "not a usable"),
        ('course_id = "c"\ninstructor = "t"\nstudents = []\n', "at least one student"),
        ('course_id = "c"\ninstructor = "t"\nstudent = ["a"]\n', "unknown keys"),
    ],
)
def test_a_class_file_that_cannot_work_is_refused_with_the_reason(tmp_path, text, complaint):
    path = tmp_path / "class.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RosterError, match=complaint):
        load_roster(path)


def test_the_hubs_course_root_is_the_course_with_its_own_root_and_the_hubs_exchange(tmp_path):
    layout = HubLayout(tmp_path / "state")
    path = tmp_path / "nbgrader_config.py"
    path.write_text(course_config_text(layout, COURSE_CONFIG, SOURCE_DIRECTORY), encoding="utf-8")
    config, course = load_config(path), load_config(COURSE_CONFIG)
    assert config.CourseDirectory.root == str(layout.course_root)
    assert config.CourseDirectory.source_directory == str(SOURCE_DIRECTORY)
    assert config.Exchange.root == str(layout.exchange)
    assert config.Watch.check_owner is True
    assert config.CourseDirectory.course_id == course.CourseDirectory.course_id
    assert config.GenerateFeedback.preprocessors == course.GenerateFeedback.preprocessors


def test_a_deployments_own_config_is_loaded_after_the_hubs(tmp_path):
    roster = load_roster()
    settings = HubSettings(
        state=str(tmp_path),
        ip="127.0.0.1",
        port=8000,
        hub_port=8081,
        proxy_api_port=8001,
        status_port=8002,
        course_id=roster.course_id,
        instructor=roster.instructor,
        students=roster.students,
        venv_bin="/venv/bin",
        students_bin=str(tmp_path / "students-env" / "bin"),
        proxy_command="/venv/node/node_modules/.bin/configurable-http-proxy",
    )
    settings.write(tmp_path / "hub-settings.json")
    own = tmp_path / "campus.py"
    own.write_text('c.JupyterHub.authenticator_class = "campus-sso"\n', encoding="utf-8")
    path = tmp_path / "jupyterhub_config.py"
    path.write_text(hub_config_text(tmp_path / "hub-settings.json", own), encoding="utf-8")
    config = load_config(path)
    assert config.JupyterHub.authenticator_class == "campus-sso"
    assert config.Authenticator.allowed_users == set(roster.users)
    assert config.JupyterHub.bind_url == "http://127.0.0.1:8000"


def test_each_member_logs_in_with_their_own_password_only(tmp_path):
    path = tmp_path / "passwords.json"
    passwords = ensure_passwords(path, ("nnc-a", "nnc-b"))
    assert path.stat().st_mode & 0o777 == 0o600
    assert ensure_passwords(path, ("nnc-a", "nnc-b")) == passwords, "kept across restarts"
    authenticator = ClassPasswordAuthenticator(passwords_file=str(path))

    def log_in(name: str, password: str):
        # In a thread of its own: Playwright's sync API may hold an event loop in this one.
        attempt = authenticator.authenticate(None, {"username": name, "password": password})
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, attempt).result()

    assert log_in("nnc-a", passwords["nnc-a"]) == "nnc-a"
    assert log_in("nnc-a", passwords["nnc-b"]) is None
    assert log_in("nnc-c", passwords["nnc-a"]) is None


def test_an_account_that_cannot_reach_the_environment_is_told_which_folder():
    with tempfile.TemporaryDirectory(dir="/tmp") as scratch:
        os.chmod(scratch, 0o755)
        private = Path(scratch) / "private"
        private.mkdir(mode=0o700)
        python = private / "python"
        python.write_text("", encoding="utf-8")
        os.chmod(python, 0o755)
        (Path(scratch) / "link").symlink_to(python)
        stranger = Account("stranger", uid=64999, gid=64999, home=Path("/nonexistent"))
        reason = unreachable(Path(scratch) / "link", stranger, bits=5)
        assert reason is not None and f"{private} (drwx------) is not traversable" in reason
        os.chmod(private, 0o711)
        assert unreachable(Path(scratch) / "link", stranger, bits=5) is None


def test_the_hub_refuses_to_start_without_root_or_for_another_course(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(HubSetupError, match="must start as root"):
        prepare_hub(class_file=DEFAULT_CLASS_FILE, state=tmp_path / "state")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    other = tmp_path / "class.toml"
    other.write_text(
        DEFAULT_CLASS_FILE.read_text(encoding="utf-8").replace("nn-training-c2w2", "other-course"),
        encoding="utf-8",
    )
    with pytest.raises(RosterError, match="differs from the course's 'nn-training-c2w2'"):
        prepare_hub(class_file=other, state=tmp_path / "state")
    assert not (tmp_path / "state").exists(), "nothing is created for a class that cannot start"
