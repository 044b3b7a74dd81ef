"""The property every fuzz target checks: an input ends in a result, or in one error of Studio's
own that says in words what is wrong with it, within a time and memory budget.

A "message" is an exception whose class Studio defines (MidiError, SSMLError, ...) or a plain
ValueError that Studio code raised itself (``raise ValueError("...")``); anything else (a
ZeroDivisionError, a KeySignatureError from mido, an OverflowError, a ValueError from int())
reaches the user as a bare exception name and fails the case.
"""

from __future__ import annotations

import hashlib
import linecache
import os
import re
import signal
import time
import traceback
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

STATS: dict[str, dict[str, Any]] = {}
RECORD = os.environ.get("STUDIO_FUZZ_RECORD") == "1"
SAVE = os.environ.get("STUDIO_FUZZ_SAVE")
_WORDS = re.compile(r"[A-Za-z]{2,}[^A-Za-z]+[A-Za-z]{2,}[^A-Za-z]+[A-Za-z]{2,}")


class BudgetExceeded(AssertionError):
    pass


class _Stopped(BaseException):
    """Raised by the alarm into a case that ran far past its budget (recording only)."""


def _alarm(_signum, _frame):
    raise _Stopped


def is_message(exc: BaseException) -> bool:
    """Whether ``exc`` is one of Studio's own errors, with words in it."""
    if not isinstance(exc, ValueError) or not _WORDS.search(str(exc)):
        return False
    if type(exc).__module__.startswith("studio"):
        return True
    if type(exc) is not ValueError:
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return False
    last = frames[-1]
    line = (linecache.getline(last.filename, last.lineno) or "").strip()
    return "/studio/" in last.filename.replace(os.sep, "/") and line.startswith("raise")


def _stats(target: str) -> dict[str, Any]:
    return STATS.setdefault(
        target,
        {"cases": 0, "results": 0, "messages": 0, "failures": 0, "slowest_s": 0.0,
         "slowest_cpu_s": 0.0, "largest_mib": 0.0, "failure_kinds": {}},
    )  # fmt: skip


def _save(target: str, data: bytes | str, kind: str) -> None:
    if not SAVE:
        return
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    folder = Path(SAVE) / target
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{kind}-{hashlib.sha1(raw).hexdigest()[:12]}"
    (folder / name).write_bytes(raw)


def check(
    target: str,
    fn: Callable[[], Any],
    data: bytes | str,
    *,
    seconds: float,
    mib: float,
) -> str:
    """Run ``fn()`` (the target applied to ``data``) and return "result" or "message"; fail the
    case (or, recording, count it) for any other ending or a broken budget."""
    stats = _stats(target)
    stats["cases"] += 1
    # Recording (measuring old code), a case is stopped at twice its budget so a quadratic one
    # does not run for hours; it counts as slow.
    stop_after = 2 * seconds if RECORD and hasattr(signal, "setitimer") else 0.0
    if stop_after:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, stop_after)
    tracemalloc.start()
    began, began_cpu = time.perf_counter(), time.process_time()
    outcome, error = "result", None
    try:
        fn()
    except _Stopped:
        outcome = "stopped"
    except Exception as exc:  # noqa: BLE001 - the property is about every exception
        if is_message(exc):
            outcome = "message"
        else:
            outcome, error = f"bare {type(exc).__name__}", exc
    finally:
        if stop_after:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - began_cpu  # on a loaded machine, wall time says little
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    stats["slowest_s"] = round(max(stats["slowest_s"], elapsed), 3)
    stats["slowest_cpu_s"] = round(max(stats.get("slowest_cpu_s", 0.0), cpu), 3)
    stats["largest_mib"] = round(max(stats["largest_mib"], peak / 2**20), 1)
    problem = None
    if error is not None:
        problem = f"{outcome}: {str(error)[:300]}"
    elif elapsed > seconds or outcome == "stopped":
        outcome, problem = "slow", f"took {elapsed:.1f} s (budget {seconds:g} s)"
    elif peak / 2**20 > mib:
        outcome, problem = "memory", f"used {peak / 2**20:.0f} MiB (budget {mib:g} MiB)"
    if problem is None:
        stats["results" if outcome == "result" else "messages"] += 1
        return outcome
    stats["failures"] += 1
    kind = outcome.split()[-1]
    stats["failure_kinds"][kind] = stats["failure_kinds"].get(kind, 0) + 1
    _save(target, data, kind)
    if RECORD:
        return outcome
    if error is not None:
        raise AssertionError(f"{target}: {problem}") from error
    raise BudgetExceeded(f"{target}: {problem}")
