"""``studio bench music`` times the click to the first note heard on both paths in one run."""

import json
import textwrap

import pytest

from tests.support.null_sound import run_on_null_sound


def test_bench_reports_live_against_the_old_path_with_a_ratio(tiny_run, tmp_path):
    code = textwrap.dedent(f"""
        import json, math
        from studio.core.jobs import JobContext
        from studio.music import bench
        from studio.music.engine import MusicEngine
        bench.FIRST_NOTE_RUNS = 1
        bench._first_note_in_window = lambda: {{}}  # the window's own figure: not here (slow)
        engine = MusicEngine.load({str(tiny_run[1])!r})
        print(json.dumps(bench._first_note(engine, JobContext())))
    """)
    out = run_on_null_sound(tmp_path, code, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "null device" in result["first_note_audio"]
    for mode in ("generate", "continue"):
        figures = result[f"click_to_first_note_{mode}_s"]
        assert 0 < figures["live"] < 5 and 0 < figures["old"] < 5, figures
        # the ratio is of the unrounded times: within rounding of the shown ones
        assert figures["ratio"] == pytest.approx(figures["old"] / figures["live"], rel=0.1)
    assert "before" in result["first_note_load_average"]
