"""Fuzzing profiles: a short deterministic run in the suite, a long random one with `make fuzz`.

``STUDIO_FUZZ=fuzz`` (what ``make fuzz`` sets) runs each target for thousands of cases with a
random seed; ``STUDIO_FUZZ_EXAMPLES=N`` sets the count for either profile. ``STUDIO_FUZZ_RECORD=1``
counts failures instead of stopping at the first, and ``STUDIO_FUZZ_REPORT=FILE`` writes the
per-target table (cases, results, messages, failures, slowest case, largest memory) as JSON;
``STUDIO_FUZZ_SAVE=DIR`` keeps each failing input there (for the corpus).
"""

import json
import os

from hypothesis import HealthCheck, settings

from tests.fuzz import oracle

_COMMON = dict(
    deadline=None,  # the oracle times each case against its own budget
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
    print_blob=True,
)
_EXAMPLES = os.environ.get("STUDIO_FUZZ_EXAMPLES")
settings.register_profile("suite", max_examples=int(_EXAMPLES or 40), derandomize=True, **_COMMON)
settings.register_profile("fuzz", max_examples=int(_EXAMPLES or 3000), **_COMMON)
settings.load_profile(os.environ.get("STUDIO_FUZZ", "suite"))


def pytest_sessionfinish(session, exitstatus):
    report = os.environ.get("STUDIO_FUZZ_REPORT")
    if report and oracle.STATS:
        with open(report, "w", encoding="utf-8") as fh:
            json.dump(oracle.STATS, fh, indent=2, sort_keys=True)
