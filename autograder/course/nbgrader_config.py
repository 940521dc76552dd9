"""nbgrader configuration for the C2_W2 assignment; this folder is the course root.

Run nbgrader from this folder with the course environment active (nbgrader calls ``alembic``
from PATH). This folder is course data only: besides this file it holds no Python module, so
nothing here can shadow an installed package when a command runs from it (a test enforces
this). The source notebook lives in ../../assignment/<assignment>/; generate_assignment
adds the assignment to the gradebook and autograde adds unknown students, so no
``nbgrader db ... add`` step is needed.
"""

import os

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from autograder import feedback
from autograder.feedback import FeedbackExporter, sanitize
from autograder.feedback.preprocessors import (
    HideLibraryNoise,
    SanitizeFeedback,
    StaticWidgets,
    SummarizeChecks,
)
from autograder.grading.preprocessors import ExecuteWithEnv, FilterLibraryWarnings

_HERE = os.path.dirname(os.path.abspath(__file__))

c = get_config()

c.CourseDirectory.course_id = "nn-training-c2w2"
c.CourseDirectory.root = _HERE
# Relative to the course root; nbgrader joins it to root, so a relative path works.
c.CourseDirectory.source_directory = "../../assignment"
c.GenerateAssignment.create_assignment = True
c.Autograde.create_student = True

# One stub for every exercise: the released cell fails with this message until answered.
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("Replace this line with your code for the exercise above, then run the cell again.")'
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Seconds per cell; training 40 epochs takes about 15 s on two cores.
c.Execute.timeout = 600
# nbgrader scores a test cell zero if it writes to stderr: keep TensorFlow's C++ logging
# quiet in the grading kernel, and filter the library warnings that still get through
# (absl start-up lines, Keras/Python warnings) out of graded cells before grading.
c.ExecuteWithEnv.kernel_env = {"TF_CPP_MIN_LOG_LEVEL": "2"}

c.Autograde.autograde_preprocessors = [
    ExecuteWithEnv,
    FilterLibraryWarnings,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# Autograded notebooks hold the hidden tests again (nbgrader restores test cells from the
# source); feedback must not show them, nor the facts outputs or tracebacks quoting them.
# The page opens with a summary (each check by its question and grade_id, by exercise, with
# points and, if it failed, why), shows no library start-up noise and no widget reprs, and
# typesets math as MathML, so it needs no network (autograder/feedback).
c.GenerateFeedback.preprocessors = [
    GetGrades,
    ClearHiddenTests,
    SanitizeFeedback,
    HideLibraryNoise,
    StaticWidgets,
    SummarizeChecks,
    CSSHTMLHeaderPreprocessor,
]
c.GenerateFeedback.exporter_class = FeedbackExporter
# FeedbackExporter's section, not HTMLExporter's: the Formgrader renders submissions with a
# plain HTMLExporter and nbgrader's formgrade template, which the feedback's would replace.
c.FeedbackExporter.template_name = feedback.TEMPLATE_NAME
c.FeedbackExporter.extra_template_basedirs = feedback.template_basedirs()
# Everything in a submission is the student's. Every HTMLExporter (the Formgrader's, which
# the instructor opens inside JupyterLab, and the feedback's) drops JavaScript outputs and
# cleans Markdown cells and HTML outputs, so no script, handler or style of theirs runs.
c.HTMLExporter.sanitize_html = True
c.HTMLExporter.filters = sanitize.HTML_FILTERS

# Grading on submission (`nn-autograde watch`, docs/grading-on-submission.md). Before the
# assignment's due date (`nbgrader db assignment add ... --duedate=...`), feedback shows the
# public tests' results and only the hidden tests' total (autograder/grading/deadline.py says
# which are which); c.FeedbackDeadline.hidden_until_deadline = False shows everything at once.
from autograder.feedback.deadline import HideHiddenTests  # noqa: E402

c.GenerateFeedback.preprocessors.insert(
    c.GenerateFeedback.preprocessors.index(ClearHiddenTests), HideHiddenTests
)
# The watcher's policies (defaults shown); its flags override them for one run.
# c.Watch.max_graded_per_hour = 4  # per student; over it a submission waits, never dropped
# c.Watch.poll_interval = 10.0  # seconds between looks at the exchange's inbound folder
# c.Watch.known_students_only = False  # True: only students in the gradebook are graded
# c.Watch.check_owner = True  # folders must be the student's Unix user's (False: one-user exchange)
# c.Watch.max_clock_skew = 300.0  # seconds a claimed submission time may precede its files
# c.Watch.counts = "latest-on-time-unless-later-scores-higher"  # or "latest" (nbgrader's)
# Late submissions: nbgrader's penalty plug-in, applied by AssignLatePenalties above, e.g.
# c.LateSubmissionPlugin.penalty_method = "zero"  # default "none": late work keeps its score
# Grades for an LMS (`nn-autograde export-lms`): the Canvas column matched to the student id.
# c.LmsExport.canvas_id_column = "SIS Login ID"
