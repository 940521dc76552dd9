"""Adversarial submissions for the grading command, and a small course to grade them in."""
