# Convenience targets; each only forwards to the command the README documents.
.PHONY: setup run test test-fast lint bench

setup:
	bash .ci/setup

run: setup
	.venv/bin/nn-course run

test:
	.venv/bin/pytest

test-fast:
	.venv/bin/pytest -m "not slow and not browser"

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench:
	.venv/bin/python benchmarks/course_bench.py
	.venv/bin/python benchmarks/grading_bench.py
