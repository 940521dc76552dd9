"""Grading code for the C2_W2 assignment; ``course/`` beside it is the nbgrader course root.

The pieces, from the student's kernel outwards:

* :mod:`autograder.probes` runs in the student's kernel and only *reports* facts about the
  student's objects (outputs of ``my_softmax`` on probe inputs, the layers of ``model``).
* :mod:`autograder.checks` judges facts against the reference data in ``reference/``;
  pure functions returning :class:`autograder.checks.CheckResult`.
* :mod:`autograder.kernel` is what the notebook's test cells call: it collects facts,
  records them as a display output, and judges them when the reference is readable.
* :mod:`autograder.protocol` is what the kernel and the grader agree on: the facts' MIME
  type, the model file, the status codes.
* :mod:`autograder.preprocessors` holds the nbgrader preprocessors wired in
  ``course/nbgrader_config.py`` (library-warning filter, feedback sanitiser).

The grading command (``python -m autograder grade``): :mod:`autograder.grade` (the driver and
only writer of the gradebook), :mod:`autograder.state` (its private records),
:mod:`autograder.cluster` and :mod:`autograder.execute` (jobs on Dask workers),
:mod:`autograder.sandbox` (bubblewrap and limits), :mod:`autograder.model_file` (the saved
model, read and handed to :mod:`autograder.model_probe` in a second sandbox, so no student code
runs), :mod:`autograder.judge` (verdicts outside the kernel) and :mod:`autograder.report`
(progress, table, CSV).
"""
