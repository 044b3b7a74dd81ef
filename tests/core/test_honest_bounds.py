"""A test that cannot fail is a defect: no test asserts a time bound equal to (or above) the timeout
it waits with, since the wait would fail first and the bound could never do so.

Every test function in the suite is read (not run): each ``timeout=N`` it passes (seconds; a
qtbot's milliseconds count as seconds too) is compared with each ``x < M`` or ``x <= M`` it
asserts on a measured time (``x`` names a time, an elapsed, seconds...); ``M >= N`` for the same
function is reported with its file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _number(node: ast.AST) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        if not isinstance(node.value, bool):
            return float(node.value)
    return None


def _timeouts(func: ast.AST) -> list[float]:
    found = []
    for node in ast.walk(func):
        if isinstance(node, ast.keyword) and node.arg == "timeout":
            value = _number(node.value)
            if value:
                found.append(value)
                if value >= 1000:  # qtbot and QTest wait in milliseconds
                    found.append(value / 1000)
    return found


_TIME_LIKE = re.compile(
    r"time|elapsed|second|_s$|_s_|monotonic|perf_counter|duration|took|wall|paint|latency|_ms$",
    re.IGNORECASE,
)


def _time_like(node: ast.AST) -> bool:
    """Whether an expression measures time: a name, attribute or key that says so."""
    for sub in ast.walk(node):
        words = []
        if isinstance(sub, ast.Name):
            words.append(sub.id)
        elif isinstance(sub, ast.Attribute):
            words.append(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            words.append(sub.value)
        if any(_TIME_LIKE.search(w) for w in words):
            return True
    return False


def _upper_bounds(func: ast.AST) -> list[tuple[float, int]]:
    """Upper bounds asserted on a measured time: ``elapsed < 60``, ``0 < out["first_s"] < 60``."""
    bounds = []
    for node in ast.walk(func):
        if not isinstance(node, ast.Assert):
            continue
        for compare in ast.walk(node.test):
            if not isinstance(compare, ast.Compare):
                continue
            left = compare.left
            for op, right in zip(compare.ops, compare.comparators, strict=True):
                value = _number(right)
                if value is not None and isinstance(op, (ast.Lt, ast.LtE)) and _time_like(left):
                    bounds.append((value, compare.lineno))
                left = right
    return bounds


def offenders(root: Path = TESTS) -> list[str]:
    """``file:line`` of every asserted bound at or above a timeout in the same test function."""
    found = []
    for path in sorted(root.rglob("test_*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            timeouts = _timeouts(func)
            if not timeouts:
                continue
            for bound, line in _upper_bounds(func):
                if bound > 1 and any(bound >= t for t in timeouts):
                    found.append(f"{path.relative_to(root.parent)}:{line} bound {bound:g} >= "
                                 f"timeout {min(timeouts):g} in {func.name}")  # fmt: skip
    return found


def test_no_time_bound_is_at_or_above_its_own_timeout():
    assert offenders() == []


def test_the_check_catches_a_bound_equal_to_its_timeout(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_example.py").write_text(
        "import subprocess\n"
        "def test_slow():\n"
        "    out = subprocess.run(['true'], timeout=60)\n"
        "    assert 0 < elapsed < 60\n"
        "def test_fine():\n"
        "    out = subprocess.run(['true'], timeout=60)\n"
        "    assert 0 < elapsed < 20\n"
        "    assert brightness < 200  # not a time\n"
        "def test_paint():\n"
        "    qtbot.waitUntil(ready, timeout=10000)\n"
        "    assert 0 < report['first_paint_s'] < 10\n"
    )
    slow, paint = offenders(tmp_path / "tests")
    assert "test_example.py:4" in slow and "test_slow" in slow
    assert "test_example.py:11" in paint and "test_paint" in paint
