"""Voice fixtures: one warm speaker cache for the session (a Piper voice loads in ~0.5 s)."""

import pytest

from studio.core.models import ModelStore


@pytest.fixture(scope="session")
def voice_cache(tmp_path_factory):
    from studio.voice.speech import SpeakerCache

    return SpeakerCache(ModelStore(tmp_path_factory.mktemp("models")))
