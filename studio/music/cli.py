"""``studio music ...``: generate, continue, infill, harmonize, render, corpus, train, eval."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio.music import find_model_path  # noqa: F401 - the music panel still imports it here

__all__ = ["add_parser", "run"]


def _controls(p: argparse.ArgumentParser, bars_default: int | None = 8) -> None:
    p.add_argument(
        "--key", help='e.g. "D minor", "F# major" (default: the input\'s key, or C major)'
    )
    p.add_argument("--meter", help="e.g. 3/4 (default: the input's, or 4/4)")
    p.add_argument("--tempo", type=float, help="BPM (default: the input's, or 120)")
    p.add_argument("--instruments", help="GM programs or names, e.g. choir,choir,strings,bass")
    p.add_argument(
        "--style",
        default="chorale",
        help="chorale, essen, oneills, ryans, pop, groove, game, folk, user or other (default "
        "chorale; the shipped model for music21's styles is studio-music-small, else "
        "studio-music-medium)",
    )
    p.add_argument("--density", type=int, choices=range(5), help="notes per bar, 0 (sparse) to 4")
    if bars_default is not None:
        p.add_argument("--bars", type=int, default=bars_default, help="how many bars")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=0, help="same seed and inputs, same notes")
    p.add_argument("--variations", type=int, default=1, help="write N versions (OUT-1.mid ...)")
    p.add_argument("--free-key", action="store_true", help="allow notes outside the key's scale")
    p.add_argument(
        "--model",
        help="transformer (default), lstm, vae, gan, or a .safetensors music model; "
        "generate and continue work with the families that offer them",
    )
    p.add_argument("--device", help="cpu, cuda or mps (default: Preferences / STUDIO_DEVICE)")
    p.add_argument("-o", "--output", required=True, help="MIDI file to write")


def add_parser(sub) -> None:
    music = sub.add_parser("music", help="compose MIDI with the music transformer")
    ms = music.add_subparsers(dest="music_command", metavar="ACTION", required=True)
    g = ms.add_parser("generate", help="new music from the controls")
    _controls(g)
    c = ms.add_parser("continue", help="continue a MIDI file")
    c.add_argument("input")
    _controls(c, bars_default=4)
    i = ms.add_parser("infill", help="rewrite bars of a MIDI file, keeping every other note")
    i.add_argument("input")
    _controls(i, bars_default=None)
    i.add_argument("--bars", required=True, help="bars to rewrite, from 1, inclusive: 5-6")
    i.add_argument("--channels", help="only these channels (1-16), e.g. 1,2 (default: all)")
    h = ms.add_parser("harmonize", help="add voices under a melody, keeping it exactly")
    h.add_argument("input")
    _controls(h, bars_default=None)
    h.add_argument(
        "--melody-channel", type=int, help="channel (1-16) of the melody (default lowest)"
    )
    r = ms.add_parser("render", help="render a MIDI file to WAV or FLAC with a SoundFont")
    r.add_argument("input")
    r.add_argument("-o", "--output", required=True, help=".wav or .flac")
    r.add_argument("--soundfont", help="a .sf2 (default: the General MIDI one pretty_midi ships)")
    r.add_argument("--sample-rate", type=int, default=44100)
    r.add_argument(
        "--max-minutes",
        type=float,
        default=30.0,
        help="refuse pieces longer than this before rendering (default 30)",
    )
    co = ms.add_parser("corpus", help="build the tokenized training corpus")
    co.add_argument(
        "--collections",
        default="bach,essenFolksong,oneills1850,ryansMammoth",
        help="music21 corpus folders (empty for none)",
    )
    co.add_argument(
        "--midi",
        action="append",
        default=[],
        metavar="DIR",
        help="also a folder of your MIDI files (repeatable)",
    )
    co.add_argument("--limit", type=int, help="at most N files (quick tries)")
    co.add_argument("--workers", type=int)
    co.add_argument("-o", "--output", help="corpus file (default: in the cache folder)")
    co.add_argument("--write-heldout", action="store_true", help=argparse.SUPPRESS)
    t = ms.add_parser("train", help="train (or resume) a music model of any family")
    t.add_argument(
        "--arch",
        default="transformer",
        choices=("transformer", "lstm", "vae", "gan"),
        help="model family (default transformer)",
    )
    t.add_argument("--preset", default="small", help="small (default) or tiny")
    t.add_argument(
        "--corpus",
        action="append",
        help="corpus file (repeatable; default: build or reuse the cached one)",
    )
    t.add_argument("--out", help="run folder (default: <user data>/studio/training/music/PRESET)")
    t.add_argument("--steps", type=int)
    t.add_argument("--minutes", type=float, help="stop after this long; run again to resume")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--device")
    t.add_argument("--no-resume", action="store_true")
    t.add_argument(
        "--name",
        default="my-music-model",
        help="name of the model; when training ends it is installed into your model folder",
    )
    _add_family_parsers(ms)
    e = ms.add_parser("eval", help="held-out cross-entropy against a 4-gram, and the in-key rate")
    e.add_argument("--model", help="a .safetensors model or a training checkpoint.pt")
    e.add_argument("--corpus")
    e.add_argument(
        "--orders",
        default="4,6",
        help="n-gram orders to compare; the first is the baseline (default 4,6)",
    )
    e.add_argument("--samples", type=int, default=100, help="samples for the in-key rate")
    e.add_argument("--windows", type=int, help="at most N held-out windows (quick tries)")
    e.add_argument("--device")
    e.add_argument("--json", action="store_true")
    e.add_argument("--all", action="store_true", help="every model family in one table")
    e.add_argument(
        "--continuation",
        action="store_true",
        help="continue 8 bars by 4 and infill 4 bars of held-out songs (needs --midi)",
    )
    e.add_argument(
        "--harmonize", action="store_true", help="harmonize held-out melodies (needs --midi)"
    )
    e.add_argument("--midi", action="append", help="MIDI folder of the held-out songs")
    e.add_argument("--pieces", type=int, default=20, help="held-out songs to use (default 20)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--instruments", help="harmonize voices, the last is the bass")


def default_corpus_path() -> Path:
    from studio.core import paths

    return paths.cache_dir() / "music" / "corpus.npz"


def heldout_list_path() -> Path:
    from studio.core.resources import resources_dir

    return resources_dir() / "music" / "heldout.txt"


def read_heldout() -> set[str] | None:
    path = heldout_list_path()
    if not path.exists():
        return None
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def _settings_device(args) -> str:
    from studio.core.devices import pick_device
    from studio.core.settings import load_settings

    return pick_device(args.device or load_settings().settings.device)


def load_engine(args):
    if getattr(args, "model", None) == "transformer":
        args.model = None  # the shipped transformer
    from studio.music.engine import MusicEngine

    device = _settings_device(args)
    path = find_model_path(getattr(args, "model", None), getattr(args, "style", None))
    if path.suffix == ".pt":
        from studio.music.training import load_checkpoint_model

        model, _cfg, _step = load_checkpoint_model(path, device)
        return MusicEngine(model, device)
    return MusicEngine.load(path, device)


def _request(args, mode: str):
    from studio.core.media import MidiClip
    from studio.music.engine import MusicRequest, parse_bars, parse_instruments

    clip = MidiClip.load(args.input) if mode != "generate" else None
    if clip is not None and not clip.notes:
        raise ValueError(f"{Path(args.input).name} has no notes")
    req = MusicRequest(
        mode=mode,
        clip=clip,
        key=args.key,
        meter=args.meter,
        tempo=args.tempo,
        style=args.style,
        density=args.density,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
        variations=args.variations,
        strict_key=not args.free_key,
    )
    if args.instruments:
        req.instruments = parse_instruments(args.instruments)
    if mode in ("generate", "continue"):
        req.bars = args.bars
    if mode == "infill":
        req.bar_range = parse_bars(args.bars)
        if args.channels:
            req.channels = [int(c) - 1 for c in args.channels.split(",")]
    if mode == "harmonize" and args.melody_channel:
        req.melody_channel = args.melody_channel - 1
    return req


def _write(clips, output: str) -> list[Path]:
    out = Path(output)
    if out.suffix.lower() not in (".mid", ".midi"):
        raise ValueError(f"{out.name}: write a .mid file")
    paths = []
    for i, clip in enumerate(clips):
        target = out if len(clips) == 1 else out.with_name(f"{out.stem}-{i + 1}{out.suffix}")
        clip.save(target)
        paths.append(target)
    return paths


def run(args) -> int:
    from studio.core.jobs import ConsoleContext

    cmd = args.music_command
    if cmd in ("generate", "continue") and _family_name(getattr(args, "model", None)) not in (
        None,
        "transformer",
    ):
        return _family_generate(args, cmd)
    if cmd in ("interpolate", "variations", "groove", "attribute"):
        return _family_command(args, cmd)
    if cmd in ("generate", "continue", "infill", "harmonize"):
        req = _request(args, cmd)
        engine = load_engine(args)
        clips = engine.run(req, ConsoleContext())
        for path, clip in zip(_write(clips, args.output), clips, strict=True):
            print(
                f"{path}: {len(clip.notes)} notes, {clip.bars:g} bars, key "
                f"{clip.provenance.get('key', '?')}, seed {clip.provenance['seed']}"
            )
        return 0
    if cmd == "render":
        from studio.core.media import MidiClip
        from studio.music.synth import render_to_file

        if not 8000 <= args.sample_rate <= 192000:
            raise ValueError(f"--sample-rate {args.sample_rate} is outside 8000..192000 Hz")
        if not 0 < args.max_minutes <= 24 * 60:
            raise ValueError(f"--max-minutes {args.max_minutes:g} is outside 0..1440")
        clip = MidiClip.load(args.input)
        path = Path(args.output)
        # streamed to disk block by block (flat memory), then renamed over the output
        seconds = render_to_file(
            clip,
            path,
            Path(args.soundfont) if args.soundfont else None,
            args.sample_rate,
            ConsoleContext(),
            max_seconds=args.max_minutes * 60.0,
        )
        print(f"{path}: {seconds:.1f} s at {args.sample_rate} Hz")
        return 0
    if cmd == "corpus":
        return _corpus(args)
    if cmd == "train":
        if args.arch != "transformer":
            return _train_family(args)
        return _train(args)
    if cmd == "eval":
        return _eval(args)
    raise ValueError(f"unknown music command {cmd}")


def _corpus(args) -> int:
    from studio.core.jobs import ConsoleContext
    from studio.music.corpus import build_corpus, is_heldout, save_corpus

    collections = [c for c in args.collections.split(",") if c.strip()]
    corpus, report = build_corpus(
        collections, args.midi, ConsoleContext(), args.workers, args.limit
    )
    path = save_corpus(corpus, Path(args.output) if args.output else default_corpus_path())
    print(
        f"{path}: {report.pieces} pieces, {corpus.n_tokens:,} tokens; {report.failed} failed "
        f"to convert, {report.empty} had no notes; by style {report.by_style}"
    )
    for err in report.errors[:5]:
        print(f"  skipped {err}", file=sys.stderr)
    if args.write_heldout:
        held = sorted(p.piece_id for p in corpus.pieces if is_heldout(p.piece_id))
        target = heldout_list_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        from studio.core.atomic import write_text

        write_text(target, "\n".join(held) + "\n")
        print(f"{target}: {len(held)} held-out pieces")
    return 0


def _load_or_build_corpus(arg: str | list[str] | None):
    from studio.core.jobs import ConsoleContext
    from studio.music.corpus import Corpus, build_corpus, load_corpus, save_corpus

    if isinstance(arg, list):
        if len(arg) > 1:  # several corpora train as one
            pieces = [p for one in arg for p in _load_or_build_corpus(one).pieces]
            return Corpus(pieces)
        arg = arg[0] if arg else None
    path = Path(arg) if arg else default_corpus_path()
    if path.exists():
        return load_corpus(path)
    if arg:
        raise FileNotFoundError(
            f"corpus {path} does not exist; build it with `studio music corpus`"
        )
    print("building the corpus first (once; it is cached)", file=sys.stderr)
    corpus, _report = build_corpus(ctx=ConsoleContext())
    save_corpus(corpus, path)
    return corpus


def _train(args) -> int:
    from dataclasses import replace

    from studio.core import paths
    from studio.core.jobs import ConsoleContext
    from studio.music.training import PRESETS, TrainConfig, train

    if args.preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}")
    cfg = TrainConfig(**PRESETS[args.preset])
    for name in ("steps", "minutes", "batch_size", "seed"):
        if getattr(args, name) is not None:
            cfg = replace(cfg, **{name: getattr(args, name)})
    corpus = _load_or_build_corpus(args.corpus)
    train_pieces, held = corpus.split(read_heldout())
    out = Path(args.out) if args.out else paths.data_dir() / "training" / "music" / args.preset
    result = train(
        cfg,
        train_pieces,
        held,
        out,
        ConsoleContext(),
        _settings_device(args),
        resume=not args.no_resume,
    )
    import os

    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    print(
        f"{out}: step {result.step}/{cfg.steps}, train loss {result.train_loss:.3f}, held-out "
        f"{result.val_loss if result.val_loss is None else round(result.val_loss, 3)}, "
        f"{result.seconds / 60:.1f} min"
    )
    if result.step >= cfg.steps:
        model_path = export(
            result.checkpoint,
            out / f"{args.name}.safetensors",
            args.name,
            " ".join(["studio", "music", "train", *sys.argv[3:]]),
            result,
        )
        installed = install_model(model_path)
        print(f"model: {model_path}\ninstalled for use: {installed}")
    else:
        print("stopped early: run the same command again to resume")
    return 0


def install_model(model_path: Path) -> Path:
    """Copy a model and its card into the user model folder (``<models>/music/``)."""
    import shutil

    from studio.core.models import CARD_SUFFIX
    from studio.core.settings import load_settings

    folder = load_settings().settings.models_dir() / "music"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(model_path, folder / model_path.name)
    card = model_path.with_name(model_path.name + CARD_SUFFIX)
    shutil.copy2(card, folder / card.name)
    return folder / model_path.name


def export(checkpoint: Path, target: Path, name: str, command: str, result=None) -> Path:
    """Write the checkpoint's model as safetensors with a card beside it."""
    import datetime

    from studio.core.atomic import atomic_path, atomic_write
    from studio.core.models import CARD_SUFFIX, sha256_file
    from studio.music.model import save_model
    from studio.music.training import load_checkpoint_model

    model, cfg, step = load_checkpoint_model(checkpoint)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as temp:  # a killed export leaves the model that was there
        save_model(model, temp, {"name": name, "steps": str(step)})
    import tomli_w

    metrics = {"steps": step, "parameters": model.num_parameters()}
    if result is not None and result.val_loss is not None:
        metrics["heldout_loss_during_training"] = round(result.val_loss, 4)
    card = {
        "name": name,
        "kind": "music",
        "file": target.name,
        "sha256": sha256_file(target),
        "licence": "GPL-3.0-or-later",
        "source": "trained by Studio",
        "command": command,
        "description": f"music transformer, d_model {cfg.d_model}, {cfg.n_layers} layers, "
        f"context {cfg.context}; trained {datetime.date.today().isoformat()}",
        "metrics": metrics,
    }
    with atomic_write(target.with_name(target.name + CARD_SUFFIX), "wb") as fh:
        tomli_w.dump(card, fh)
    return target


def _eval(args) -> int:
    from studio.core.jobs import ConsoleContext
    from studio.music.evaluate import evaluate

    if args.all or args.continuation or args.harmonize:
        from studio.music.evaluate import eval_command

        return eval_command(args)
    corpus = _load_or_build_corpus(args.corpus)
    _train_pieces, held = corpus.split(read_heldout())
    if not held:
        raise ValueError("the corpus has no held-out pieces")
    engine = load_engine(args)
    report = evaluate(
        engine,
        _train_pieces,
        held,
        orders=tuple(int(o) for o in args.orders.split(",")),
        samples=args.samples,
        max_windows=args.windows,
        ctx=ConsoleContext(),
    )
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        for k, v in report.items():
            print(f"{k:34} {v}")
    return 0


# -- the model families: LSTM, VAE, GAN ----------------------------------------------------------
def _add_family_parsers(ms) -> None:
    def common(p, output_help: str = "MIDI file to write") -> None:
        p.add_argument("--seed", type=int, default=0, help="same seed and inputs, same notes")
        p.add_argument("--device", help="cpu, cuda or mps (default: Preferences / STUDIO_DEVICE)")
        p.add_argument("-o", "--output", required=True, help=output_help)

    ip = ms.add_parser("interpolate", help="morph one melody into another in N steps (VAE)")
    ip.add_argument("a", metavar="A.mid")
    ip.add_argument("b", metavar="B.mid")
    ip.add_argument("--steps", type=int, default=5, help="clips from A to B, both included")
    ip.add_argument("--model", default="vae", help="vae (default) or a VAE .safetensors")
    common(ip, "MIDI file to write: the steps one after another")
    vp = ms.add_parser("variations", help="melodies near a clip (VAE)")
    vp.add_argument("input", metavar="IN.mid")
    vp.add_argument("--amount", type=float, default=0.5, help="how far, 0 (close) to 1 (far)")
    vp.add_argument("-n", type=int, default=4, help="how many (OUT-1.mid ... when more than one)")
    vp.add_argument("--model", default="vae", help="vae (default) or a VAE .safetensors")
    common(vp)
    ap = ms.add_parser("attribute", help="a clip with more or fewer notes (VAE latent arithmetic)")
    ap.add_argument("input", metavar="IN.mid")
    ap.add_argument("--name", default="density", help="attribute (density)")
    ap.add_argument("--amount", type=float, default=1.0, help="-2 (less) .. 2 (more)")
    ap.add_argument("--model", default="vae", help="vae (default) or a VAE .safetensors")
    common(ap)
    gp = ms.add_parser("groove", help="drums, bass and chords in a style, or drums under a melody")
    gp.add_argument("--style", default="groove", help="groove or game (the GAN's styles)")
    gp.add_argument("--bars", type=int, help="how many bars (default 4, or the melody's)")
    gp.add_argument("--under", metavar="MELODY.mid", help="write drums under this melody")
    gp.add_argument("--tempo", type=float, help="BPM (default: the melody's, or 120)")
    gp.add_argument("--model", default="gan", help="gan (default) or a GAN .safetensors")
    common(gp)


def _family_name(model: str | None) -> str | None:
    """The family ``--model`` names: a family name, or the family of a model file."""
    from studio.music.families import FAMILIES, family_of

    if model is None:
        return None
    if model in FAMILIES:
        return model
    path = Path(model).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"model {path} does not exist (give a file or one of {', '.join(FAMILIES)})"
        )
    if path.suffix == ".pt":
        return "transformer"  # a transformer training checkpoint
    return family_of(path)


def _load_family(args):
    from studio.music.families import load_family

    return load_family(args.model, _settings_device(args))


def _read_clip(path: str, what: str = "input"):
    from studio.core.media import MidiClip

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} {p} does not exist")
    clip = MidiClip.load(p)
    if not clip.notes:
        raise ValueError(f"{p.name} has no notes")
    return clip


def _concat(clips):
    """One clip: ``clips`` one after another, each starting on a bar line."""
    from studio.core.media import MidiClip, Note

    notes, at, programs = [], 0.0, {}
    for clip in clips:
        notes += [
            Note(n.start + at, n.pitch, n.duration, n.velocity, n.channel) for n in clip.notes
        ]
        programs.update(clip.programs)
        bars = max(1, int(-(-clip.length_beats // clip.bar_length)))
        at += bars * clip.bar_length
    first = clips[0]
    out = MidiClip(sorted(notes), bpm=first.bpm, beats_per_bar=first.beats_per_bar,
                   programs=programs, length=at, beat_unit=first.beat_unit)  # fmt: skip
    out.provenance = dict(first.provenance)
    return out


def _family_generate(args, cmd: str) -> int:
    from studio.core.jobs import ConsoleContext
    from studio.music.engine import parse_meter

    family = _load_family(args)
    if cmd == "generate":
        meter = parse_meter(args.meter) if args.meter else (4, 4)
        if family.family == "gan" and args.style == "chorale":
            args.style = None  # the transformer's default style means nothing to the GAN
        clips = [
            family.generate(
                args.bars,
                meter=meter,
                tempo=args.tempo or 120.0,
                style=args.style,
                seed=args.seed + i,
                ctx=ConsoleContext(),
            )
            for i in range(args.variations)
        ]
    else:
        clip = _read_clip(args.input)
        clips = [
            family.continue_(clip, args.bars, seed=args.seed + i, ctx=ConsoleContext())
            for i in range(args.variations)
        ]
    for path, clip in zip(_write(clips, args.output), clips, strict=True):
        print(f"{path}: {len(clip.notes)} notes, {clip.bars:g} bars ({family.family})")
    return 0


def _family_command(args, cmd: str) -> int:
    from studio.core.jobs import ConsoleContext

    ctx = ConsoleContext()
    if cmd == "interpolate":
        if args.steps < 2:
            raise ValueError("--steps must be at least 2 (the two ends)")
        a, b = _read_clip(args.a, "A"), _read_clip(args.b, "B")
        family = _load_family(args)
        clips = family.interpolate(a, b, args.steps, seed=args.seed, ctx=ctx)
        clip = _concat(clips)
        (path,) = _write([clip], args.output)
        print(f"{path}: {args.steps} steps from {Path(args.a).name} to {Path(args.b).name}, "
              f"{len(clip.notes)} notes, {clip.bars:g} bars")  # fmt: skip
        return 0
    if cmd == "variations":
        if not 0.0 <= args.amount <= 1.0:
            raise ValueError("--amount must be between 0 and 1")
        if not 1 <= args.n <= 64:
            raise ValueError("-n must be between 1 and 64")
        clip = _read_clip(args.input)
        family = _load_family(args)
        clips = family.variations(clip, args.amount, args.n, seed=args.seed, ctx=ctx)
        for path, out in zip(_write(clips, args.output), clips, strict=True):
            print(f"{path}: {len(out.notes)} notes, {out.bars:g} bars, amount {args.amount:g}")
        return 0
    if cmd == "attribute":
        clip = _read_clip(args.input)
        family = _load_family(args)
        if not hasattr(family, "attribute"):
            raise ValueError(f"the {family.family} model has no attributes (use a VAE)")
        out = family.attribute(clip, args.name, args.amount, seed=args.seed, ctx=ctx)
        (path,) = _write([out], args.output)
        print(f"{path}: {len(out.notes)} notes (the input has {len(clip.notes)})")
        return 0
    # groove
    under = _read_clip(args.under, "melody") if args.under else None
    if args.bars is not None and not 1 <= args.bars <= 256:
        raise ValueError("--bars must be between 1 and 256")
    family = _load_family(args)
    bars = args.bars if args.bars is not None else (None if under is not None else 4)
    clip = family.groove(args.style, bars, under, seed=args.seed, ctx=ctx)
    if args.tempo:
        clip.bpm = args.tempo
    (path,) = _write([clip], args.output)
    print(f"{path}: {len(clip.notes)} notes, {clip.bars:g} bars, style {args.style}")
    return 0


def _train_family(args) -> int:
    """``studio music train --arch lstm|vae|gan``: train, then write the model and its card."""
    from dataclasses import replace

    from studio.core import paths
    from studio.core.jobs import ConsoleContext
    from studio.music.families.trainer import PRESETS, FamilyTrainConfig, train_family

    presets = PRESETS[args.arch]
    if args.preset not in presets:
        raise ValueError(f"preset must be one of {', '.join(presets)}")
    cfg = FamilyTrainConfig(arch=args.arch, **presets[args.preset])
    for name in ("steps", "minutes", "batch_size", "seed"):
        if getattr(args, name) is not None:
            cfg = replace(cfg, **{name: getattr(args, name)})
    from studio.music.corpus import is_heldout

    corpus = _load_or_build_corpus(args.corpus)
    # The committed list, and the same hash rule for sets it does not cover yet.
    listed = read_heldout() or set()
    held = [p for p in corpus.pieces if p.piece_id in listed or is_heldout(p.piece_id)]
    held_ids = {id(p) for p in held}
    train_pieces = [p for p in corpus.pieces if id(p) not in held_ids]
    out = (
        Path(args.out)
        if args.out
        else paths.data_dir() / "training" / "music" / f"{args.arch}-{args.preset}"
    )
    result = train_family(
        cfg, train_pieces, held, out, ConsoleContext(), _settings_device(args),
        resume=not args.no_resume,
    )  # fmt: skip
    import os

    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    print(f"{out}: step {result.step}/{cfg.steps}, train loss {result.train_loss:.3f}, "
          f"held-out {result.val}, {result.seconds / 60:.1f} min")  # fmt: skip
    name = args.name if args.name != "my-music-model" else f"my-music-{args.arch}"
    model_path = export_family(
        result.checkpoint,
        out / f"{name}.safetensors",
        name,
        " ".join(["studio", "music", "train", *sys.argv[3:]]),
        train_pieces,
    )
    if result.step >= cfg.steps:
        print(f"model: {model_path}\ninstalled for use: {install_model(model_path)}")
    else:
        print(f"model so far: {model_path}\nstopped early: run the same command again to resume")
    return 0


def export_family(
    checkpoint: Path, target: Path, name: str, command: str, train_pieces: list
) -> Path:
    """Write a family checkpoint's model as safetensors with a card beside it."""
    import datetime
    import json as _json

    import tomli_w

    from studio.core.atomic import atomic_path, atomic_write
    from studio.core.models import CARD_SUFFIX, sha256_file
    from studio.music.families.trainer import checkpoint_recipe

    recipe, cfg, step = checkpoint_recipe(checkpoint, train_pieces)
    history = _json.loads((checkpoint.parent / "history.json").read_text())
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as temp:
        recipe.export(temp, {"name": name, "steps": str(step)})
    vals = [h for h in history if "val" in h]
    shipped = next(iter(recipe.models.values()))  # the LSTM, the VAE or the GAN's generator
    metrics: dict = {"steps": step, "parameters": sum(p.numel() for p in shipped.parameters())}
    if vals:
        metrics.update({f"heldout_{k}": v for k, v in vals[-1]["val"].items()})
    if history:
        metrics["training_minutes"] = round(history[-1]["seconds"] / 60, 1)
    card = {
        "name": name,
        "kind": "music",
        "family": cfg.arch,
        "file": target.name,
        "sha256": sha256_file(target),
        "licence": "GPL-3.0-or-later",
        "source": "trained by Studio",
        "command": command,
        "description": f"{recipe.description()}; trained {datetime.date.today().isoformat()}",
        "metrics": metrics,
    }
    with atomic_write(target.with_name(target.name + CARD_SUFFIX), "wb") as fh:
        tomli_w.dump(card, fh)
    return target
