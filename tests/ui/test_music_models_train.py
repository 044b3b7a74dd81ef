"""Train on my MIDI folder…'s job (Qt-free): the transformer trained on a folder of MIDI files made
here, its held-out score handed on while it trains, the model in the model folder with its card;
a folder with too little music is refused in words."""

import tomllib

import pytest

torch = pytest.importorskip("torch")

from studio.core.jobs import JobContext  # noqa: E402
from studio.core.media import MidiClip, Note  # noqa: E402
from studio.ui.dialogs.music_train import train_on_folder  # noqa: E402


class Recorder(JobContext):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list = []

    def partial(self, value) -> None:
        self.parts.append(value)


def tune(shift: int) -> bytes:
    notes = [Note(i * 0.5, 60 + (i * 2 + shift) % 12, 0.5, 90, 0) for i in range(64)]
    return MidiClip(notes, bpm=110.0, programs={0: 0}, length=32.0).to_bytes()


def test_a_transformer_trained_on_a_folder_lands_in_the_model_folder(tmp_path):
    torch.set_num_threads(1)
    folder = tmp_path / "my tunes"
    folder.mkdir()
    for i in range(4):
        (folder / f"t{i}.mid").write_bytes(tune(i))
    ctx = Recorder()
    result = train_on_folder(folder, "transformer", "tiny", 5.0, 0, True, tmp_path / "work",
                             tmp_path / "models", "cpu", ctx)  # fmt: skip
    assert result["step"] == result["steps"] == 50 and result["held"] >= 1
    model = result["model_file"]
    assert model == tmp_path / "models" / "music" / "my-transformer-my-tunes.safetensors"
    card = tomllib.loads(model.with_name(model.name + ".card.toml").read_text())
    assert card["kind"] == "music" and "my tunes" in card["command"]
    scores = [p for p in ctx.parts if "scores" in p]
    assert [s["scores"][0][0] for s in scores] == [25, 50]  # at each held-out evaluation
    assert scores[-1]["scores"][0][2] == pytest.approx(result["val"]["loss"], abs=1e-3)


def test_a_folder_with_one_piece_is_refused_in_words(tmp_path):
    (tmp_path / "only.mid").write_bytes(tune(0))
    with pytest.raises(ValueError, match="needs at least two"):
        train_on_folder(tmp_path, "lstm", "tiny", 1.0, 0, True, tmp_path / "w", tmp_path / "m",
                        "cpu", Recorder())  # fmt: skip
