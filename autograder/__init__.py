"""Grading code for the C2_W2 assignment; ``course/`` beside it is the nbgrader course root.

The pieces, from the student's kernel outwards:

* :mod:`autograder.kernel.probes` runs in the student's kernel and only *reports* facts about the
  student's objects (outputs of ``my_softmax`` on probe inputs, the layers of ``model``).
* :mod:`autograder.kernel.checks` judges facts against the reference data in ``reference/``;
  pure functions returning :class:`autograder.kernel.checks.CheckResult`.
* :mod:`autograder.kernel` is what the notebook's test cells call: it collects facts,
  records them as a display output, and judges them when the reference is readable.
* :mod:`autograder.kernel.protocol` is what the kernel and the grader agree on: the facts' MIME
  type, the model file, the status codes.
* :mod:`autograder.grading.preprocessors` holds the nbgrader preprocessors wired in
  ``course/nbgrader_config.py`` (library-warning filter, feedback sanitiser).

The grading command (``python -m autograder grade``): :mod:`autograder.grading.grade` (the driver and
only writer of the gradebook), :mod:`autograder.grading.state` (its private records),
:mod:`autograder.grading.cluster` and :mod:`autograder.grading.execute` (jobs on Dask workers),
:mod:`autograder.grading.sandbox` (bubblewrap and limits), :mod:`autograder.grading.model_file` (the saved
model, read and handed to :mod:`autograder.kernel.model_probe` in a second sandbox, so no student code
runs), :mod:`autograder.grading.judge` (verdicts outside the kernel) and :mod:`autograder.grading.report`
(progress, table, CSV).
"""
