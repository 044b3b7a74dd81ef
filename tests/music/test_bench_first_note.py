"""``studio bench music`` times the click to the first note heard on both paths in one run."""

import json
import os
import subprocess
import sys
import textwrap


def test_bench_reports_live_against_the_old_path_with_a_ratio(tiny_run, tmp_path):
    conf = tmp_path / "asound.conf"
    conf.write_text("pcm.!default { type null }\n")
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
    env = dict(os.environ, ALSA_CONFIG_PATH=str(conf))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "null device" in result["first_note_audio"]
    for mode in ("generate", "continue"):
        figures = result[f"click_to_first_note_{mode}_s"]
        assert 0 < figures["live"] < 5 and 0 < figures["old"] < 5, figures
        assert figures["ratio"] == round(figures["old"] / figures["live"], 1)
    assert "before" in result["first_note_load_average"]
