"""The check runner shared by scripts/interop_check.py and scripts/browser_check.py: every check
runs and is reported, with its traceback when it fails, and the run then fails if any did."""

import sys
import traceback

results = []


def check(name):
    """Decorates a function that is run at once, as the check `name`."""

    def run(function):
        try:
            function()
            results.append((name, None))
            print(f"  ok    {name}", flush=True)
        except Exception:  # noqa: BLE001 - every failure is reported, then the run fails
            results.append((name, traceback.format_exc()))
            print(f"  FAIL  {name}\n{traceback.format_exc()}", flush=True)
        return function

    return run


def finish(report):
    """Prints `report(passed, failed)` and exits, 1 if any check failed."""
    failed = sum(1 for _, error in results if error)
    print(report(len(results) - failed, failed))
    sys.exit(1 if failed else 0)
