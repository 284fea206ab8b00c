"""The pass/fail counter the Python checkers (tests/otio, tests/edl) share."""


class Checks:
    """Counts results and reports failures as they happen."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {what}")
        return ok

    def summary(self):
        """Prints `N passed, M failed`; returns the exit status (1 when anything failed)."""
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0
