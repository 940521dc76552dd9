"""Can a submission forge the model facts its kernel reports? (graded with the sandbox on)

The model checks have no secret probes: a student who has read probes.py knows exactly what a
right model's facts look like. One grading run of a mini model assignment checks that forged
facts for a wrong (sigmoid) model earn no more than the honest wrong model, because the judge
takes the model's facts from the file the kernel saved, described outside the kernel.
"""

from __future__ import annotations

import pytest

from autograder.grading import grade, planning, sandbox
from autograder.grading.limits import Limits
from autograder.kernel.protocol import Verdict

from adversarial import attacks, course

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sandbox.sandbox_available(), reason="needs bubblewrap (bwrap)"),
]

LIMITS = Limits(cell_timeout=120, total_timeout=300, memory=6 * 1024**3, threads=1)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the honest and forging model submissions once; return rows and test reasons."""
    root = tmp_path_factory.mktemp("model-forgery")
    course_root = course.make_course(root, course.model_source_notebook())
    course.submit(
        course_root, "passes_all", course.model_submission(course_root, course.CORRECT_MODEL)
    )
    course.submit(
        course_root, "honest_sigmoid", course.model_submission(course_root, course.SIGMOID_MODEL)
    )
    for name, attack in attacks.MODEL_ATTACKS.items():
        cells = [src.replace("{course}", str(course_root)) for src in attack.before_tests]
        nb = course.model_submission(course_root, course.SIGMOID_MODEL, before_tests=cells)
        course.submit(course_root, name, nb)
    rows = grade.grade_assignment(
        assignment=course.ASSIGNMENT,
        course_root=course_root,
        workers=2,
        limits=LIMITS,
        show_progress=False,
    )
    plan = planning.make_plan(course_root=course_root, assignment=course.ASSIGNMENT)
    return {
        "course": course_root,
        "rows": {row.student: row for row in rows},
        "reasons": {
            row.student: planning.read_state(plan, row.student).test_reasons for row in rows
        },
    }


def test_honest_models_get_exact_scores(graded):
    rows = graded["rows"]
    assert (rows["passes_all"].status, rows["passes_all"].score) == ("ok", course.MODEL_FULL_SCORE)
    sigmoid = rows["honest_sigmoid"]
    assert sigmoid.score == course.SIGMOID_SCORE, graded["reasons"]["honest_sigmoid"]
    assert sigmoid.tests["model_activations"] == 0.0


@pytest.mark.parametrize("name", sorted(attacks.MODEL_ATTACKS))
def test_forged_model_facts_earn_no_more_than_the_honest_wrong_model(graded, name):
    row = graded["rows"][name]
    assert row.score <= graded["rows"]["honest_sigmoid"].score, row
    assert row.tests["model_activations"] == 0.0, row
    reasons = set(graded["reasons"][name].values())
    assert reasons & {Verdict.CONTRADICTORY_REPORT, Verdict.MODEL_UNVERIFIED}, reasons


def test_a_link_cannot_replace_the_model_file(graded):
    reasons = set(graded["reasons"]["model_planted_link"].values())
    assert Verdict.MODEL_UNVERIFIED in reasons and reasons <= {
        Verdict.MODEL_UNVERIFIED,
        Verdict.FAILED,
    }
    path = graded["course"] / "autograded" / "model_planted_link" / "Mini" / "Mini.ipynb"
    text = path.read_text()
    assert "FileExistsError" in text and "SQLite format" not in text


def test_a_hand_written_model_file_earns_nothing(graded):
    """Does a right config.json typed into the model file, with probes patched, pass nothing?"""
    for name in ("model_hand_written_file", "model_hand_written_file_forged_outputs"):
        assert graded["rows"][name].score == 0.0, graded["reasons"][name]
        assert set(graded["reasons"][name].values()) <= {
            Verdict.MODEL_UNVERIFIED,
            Verdict.CONTRADICTORY_REPORT,
        }
