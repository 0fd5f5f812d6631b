"""The test suite (a package, so mypy and pytest name its modules alike: tests.test_x)."""
