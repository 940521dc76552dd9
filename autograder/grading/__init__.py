"""The grading driver: runs outside any sandbox, is the only writer of the gradebook."""
