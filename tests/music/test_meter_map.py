"""The tokenizer follows a clip's meter changes, and the vocabulary only grows at its end."""

import pytest

from studio.core.media import MidiClip, Note
from studio.music.tokens import STYLES, piece_bar_at, piece_bar_starts

BAR_STARTS = [0.0, 4.0, 8.0, 11.0, 14.0, 17.5]  # 4/4, 4/4, 3/4, 3/4, 7/8, 7/8


def test_a_clip_with_meter_changes_round_trips_with_bars_in_place(tok):
    notes = [Note(s, 60 + i, 0.5, 80, 0) for i, s in enumerate(BAR_STARTS)]
    notes += [Note(s + 0.5, 43, 0.5, 80, 1) for s in BAR_STARTS]  # a second track
    clip = MidiClip(notes=notes, bpm=100, programs={0: 0, 1: 32},
                    meter_changes=[(8.0, 3, 4), (14.0, 7, 8)])  # fmt: skip
    piece = tok.encode_clip(clip)
    assert piece.n_bars == 6
    # a Meter token opens the bars where the meter changes, in every track
    first = [[tok.names[b[0]] for b in t.bars] for t in piece.tracks]
    assert [row[2] for row in first] == ["Meter_3/4", "Meter_3/4"]
    assert [row[4] for row in first] == ["Meter_7/8", "Meter_7/8"]
    assert not any(name.startswith("Meter") for row in first for name in row[:2] + row[3:4])
    assert piece_bar_starts(piece, tok) == [*BAR_STARTS, 21.0]
    assert piece_bar_at(piece, tok, 12.0) == 3
    assert piece_bar_at(piece, tok, 21.0) == 6  # past the end: on in 7/8
    back = tok.decode(piece)
    assert back.meter_changes == [(8.0, 3, 4), (14.0, 7, 8)]
    assert sorted((n.start, n.pitch, n.channel) for n in back.notes) == sorted(
        (n.start, n.pitch, n.channel) for n in clip.notes
    )
    assert back.bar_starts() == BAR_STARTS


def test_compound_meter_decodes_in_quarter_notes(tok):
    """Positions count eighths in 6/8: a note on the second dotted quarter stays there."""
    clip = MidiClip(notes=[Note(0.0, 60, 1.5, 80, 0), Note(1.5, 62, 1.5, 80, 0),
                           Note(3.0, 64, 0.5, 80, 0)], beats_per_bar=6, beat_unit=8)  # fmt: skip
    back = tok.decode(tok.encode_clip(clip))
    assert [(n.start, n.duration) for n in back.notes] == [(0.0, 1.5), (1.5, 1.5), (3.0, 0.5)]


def test_new_tokens_are_appended_so_the_small_model_still_fits(tok):
    import torch

    from studio.core.resources import resources_dir
    from studio.music.model import load_model

    model, _meta = load_model(
        resources_dir() / "models" / "music" / "studio-music-small.safetensors"
    )
    old = model.cfg.vocab_size
    assert old == 450 < tok.vocab_size
    # the ids the small model was trained on keep their meaning
    assert tok.ids["Track_Drums"] == old - 1 and tok.ids["Style_other"] < old
    assert all(tok.ids[f"Style_{s}"] >= old for s in ("pop", "groove", "game", "folk"))
    assert set(STYLES[-4:]) == {"pop", "groove", "game", "folk"}
    # conditioning it on a style it never saw falls back to "other"; a known style stays
    assert tok.style_for("pop", old) == "other"
    assert tok.style_for("chorale", old) == "chorale"
    assert tok.style_for("pop", tok.vocab_size) == "pop"
    # a 7/8 clip in a pop style: for the old model the new ids become ones it knows
    clip = MidiClip(notes=[Note(0.0, 60, 0.5, 80, 0), Note(4.0, 62, 0.5, 80, 0)],
                    meter_changes=[(4.0, 7, 8)])  # fmt: skip
    piece = tok.encode_clip(clip, style="pop")
    seq = tok.sequence(piece)
    assert max(seq) >= old
    fitted = tok.for_vocab(seq, old)
    assert max(fitted) < old and len(fitted) == len(seq) - 1  # the in-bar Meter_7/8 went
    assert tok.ids["Style_other"] in fitted
    with torch.inference_mode():
        model(torch.tensor([fitted]))
    with torch.inference_mode():
        logits, _ = model(torch.tensor([[tok.BOS, tok.ids["Style_other"]]]))
    assert logits.shape[-1] == old  # it never writes the new ids


@pytest.mark.parametrize("meter", [(5, 8), (7, 8)])
def test_odd_meters_have_tokens(tok, meter):
    second = meter[0] / 2 + 0.5  # half a beat into the second bar
    clip = MidiClip(notes=[Note(0.0, 60, 0.5, 80, 0), Note(second, 62, 0.5, 80, 0)],
                    beats_per_bar=meter[0], beat_unit=meter[1])  # fmt: skip
    piece = tok.encode_clip(clip)
    assert piece.meter == meter
    assert piece_bar_starts(piece, tok) == pytest.approx([0.0, meter[0] / 2, meter[0]])
    assert tok.decode(piece).notes[1].start == second


def test_the_default_model_knows_every_style_and_meter(tok):
    from studio.core.models import ModelCard, sha256_file
    from studio.core.resources import resources_dir
    from studio.music import DEFAULT_MODEL
    from studio.music.model import load_model

    path = resources_dir() / "models" / "music" / f"{DEFAULT_MODEL}.safetensors"
    card = ModelCard.from_toml(path.with_name(path.name + ".card.toml"))
    assert card.sha256 == sha256_file(path) and path.stat().st_size <= 25 * 2**20
    model, _meta = load_model(path)
    assert model.cfg.vocab_size == tok.vocab_size
    assert all(tok.style_for(s, model.cfg.vocab_size) == s for s in STYLES)
    # the card credits every set it was trained on
    for credit in ("POP909", "Groove MIDI Dataset", "CC BY 4.0", "Freedoom", "Korp", "Nottingham"):
        assert credit in card.source
