"""The issue's flow through the documents, without Qt: compose bars in Music, sing them in Voice,
make a picture in Image, send all three to Arrange, change the tempo, and export a music video
mastered to -14 LUFS; then the project saves and opens with the arrangement."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from studio.arrange.document import ArrangeDocument
from studio.arrange.export import export_video
from studio.arrange.mix import render_mix
from studio.arrange.send import send_to_arrange
from studio.core.jobs import JobContext
from studio.project import Project


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg program")
def test_compose_sing_arrange_and_export_a_music_video(tmp_path, voice_cache):
    from studio.image.pattern import make_pattern
    from studio.music.scale_melody import ScaleMelodyGenerator
    from studio.voice.document import Take
    from studio.voice.sing import sing_clip

    project = Project()
    # compose: 2 bars in the Music document
    request = {"key": "C", "scale": "major", "bars": 2, "bpm": 120.0, "octave": 4,
               "rest_chance": 0.0, "seed": 3}  # fmt: skip
    melody = ScaleMelodyGenerator().run(request, JobContext())
    music = project.document("music")
    music.replace_clip("Compose 2 bars", melody)
    # sing them in the Voice document
    voice = project.document("voice")
    voice.set_melody(music.clip.to_midi(), "the Music panel")
    song = sing_clip(voice.melody, "la la la la la la la la la la", voice.settings.sing(),
                     JobContext(), cache=voice_cache)  # fmt: skip
    voice.add_take(Take(0, "song", song.audio.samples, song.audio.sample_rate, text="la",
                        provenance=song.audio.provenance))  # fmt: skip
    # a generated picture in the Image document
    pixels = make_pattern(_pattern_defaults() | {"width": 64, "height": 36, "seed": 5})
    project.document("image").add_layer(np.asarray(pixels), "Pattern")
    # arrange: all three at the start
    arrange: ArrangeDocument = project.document("arrange")
    send_to_arrange(project, "music", at=0)
    send_to_arrange(project, "voice", at=0)
    send_to_arrange(project, "image", at=0)
    kinds = [lane.kind for lane in arrange.lanes]
    assert kinds.count("video") == 1 and "audio" in kinds and "midi" in kinds
    assert arrange.bpm == 120.0
    vocal = next(lane for lane in arrange.lanes if lane.kind == "audio")
    arrange.set_lane_effects(vocal.id, reverb=0.3, compress=0.4)
    arrange.set_master(compress=0.2)
    arrange.set_tempo(140)  # the MIDI follows, the sung take is re-timed onto it
    result = render_mix(arrange)
    assert abs(result.loudness - (-14.0)) <= 1.0 and result.true_peak <= -1.0
    assert result.seconds == pytest.approx(arrange.seconds + 1.5, abs=0.05)
    out = export_video(arrange, result, tmp_path / "song.mp4", size=(160, 90), fps=10)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                            "stream=codec_name:format_tags=comment", "-of", "json", str(out)],
                           capture_output=True, text=True, check=True)  # fmt: skip
    info = json.loads(probe.stdout)
    assert sorted(s["codec_name"] for s in info["streams"]) == ["aac", "h264"]
    assert json.loads(info["format"]["tags"]["comment"])["bpm"] == 140.0
    # the whole session saves and opens again
    path = project.save(tmp_path / "song")
    project.close()
    again = Project.open(path, lock=False)
    back = again.document("arrange")
    assert back.bpm == 140.0 and len(back.clips) == len(arrange.clips)
    assert back.source(back.lane_clips(vocal.id)[0].source).sung_bpm == 120.0
    assert again.messages == []
    again.close()


def _pattern_defaults() -> dict:
    from studio.image.pattern import PATTERN_PARAMS

    return {p.name: p.default for p in PATTERN_PARAMS if p.name not in ("width", "height", "seed")}
