"""Test support shared by the tests and the benchmarks: courses, samples, nbgrader.

The tests find it on pytest's path (``tests/`` is the rootdir of their conftest); a benchmark
puts ``tests/`` on ``sys.path`` first.
"""
