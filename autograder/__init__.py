"""Grading for the C2_W2 assignment, in rooms that show who runs what.

* :mod:`autograder.kernel` runs inside the student's kernel: the ``check_*`` functions the
  test cells call, the probes that report facts, the public cases, the checks that judge facts
  and the protocol both sides agree on. It imports nothing of ours outside itself and is copied
  whole into every grading sandbox.
* :mod:`autograder.grading` is the grading driver, run by the instructor outside any sandbox
  and the only writer of the gradebook: ``python -m autograder grade``.
* :mod:`autograder.feedback` renders the students' feedback pages (``generate_feedback``).
* ``reference/`` (JSON) and ``course/`` (the nbgrader course root) are data, not code.

``tests/test_autograder_rooms.py`` enforces which room may import which.
"""
