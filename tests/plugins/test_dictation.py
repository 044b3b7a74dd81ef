"""The example plugin under plugins/dictation, installed with pip: its word error rate on speech the
Voice panel synthesizes (Piper's default voice), and its text in the Voice panel."""

from pathlib import Path

import pytest

from .conftest import install_plugin, registry_with

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugins" / "dictation"
SENTENCES = [
    "the quick brown fox jumps over the lazy dog",
    "please open the door and bring me a cup of tea",
    "she sang a song about the river and the moon",
]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: edit distance over words, divided by the reference's length."""
    ref, hyp = reference.split(), hypothesis.split()
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[-1] / max(1, len(ref))


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    site = install_plugin(PLUGIN, tmp_path_factory.mktemp("site"))
    with registry_with(site) as reg:
        yield reg


def test_word_error_rate_on_synthesized_speech(registry, voice_cache):
    from studio.core.jobs import JobContext
    from studio.voice.speech import SpeechSettings, speak

    assert "dictation/dictation" in {r.id for r in registry.contributions("transcriber")}
    errors = []
    for sentence in SENTENCES:
        audio = speak(sentence + ".", SpeechSettings(), JobContext(), cache=voice_cache).audio
        text = registry.run("dictation/dictation", {"audio": audio})
        errors.append(wer(sentence, text.lower()))
    mean = sum(errors) / len(errors)
    print(f"dictation WER on Piper speech: {mean:.3f} per sentence {errors}")
    assert mean <= 0.25


def test_bad_audio_is_a_message(registry):
    import numpy as np

    from studio.core.media import AudioClip
    from studio.plugins.registry import PluginError

    with pytest.raises((ValueError, PluginError), match="too short"):
        registry.run("dictation/dictation", {"audio": AudioClip(np.zeros(100, np.float32), 16000)})


def test_the_voice_panel_puts_dictation_into_the_text_or_the_lyrics(
    registry, qtbot, voice_cache, tmp_path
):
    from studio.core.jobs import JobContext
    from studio.ui.context import StudioContext
    from studio.ui.panels.voice.panel import VoicePanel
    from studio.voice.speech import SpeechSettings, speak

    audio = speak("open the door.", SpeechSettings(), JobContext(), cache=voice_cache).audio
    audio.save_wav(tmp_path / "said.wav")
    context = StudioContext.create()
    context.registry = registry
    panel = VoicePanel(context)
    qtbot.addWidget(panel)
    for tab, widget in ((0, panel.editor), (1, panel.lyrics)):
        panel.tabs.setCurrentIndex(tab)
        handle = panel.transcribe(tmp_path / "said.wav")
        with qtbot.waitSignal(handle.finished, timeout=60000):
            pass
        qtbot.waitUntil(lambda w=widget: "door" in w.toPlainText(), timeout=5000)
    context.runner.shutdown()
