"""The ``studio`` command. Everything heavy is imported inside the sub-command that needs it, so
``studio --help`` never imports torch or Qt."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from studio import __version__

__all__ = ["main", "CliError"]

PANEL_IDS = ("music", "image", "video", "voice", "library", "arrange")


class CliError(Exception):
    """A failure to report as one line on stderr (exit status ``code``)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x800, not {text!r}") from None
    if not (200 <= w <= 8000 and 150 <= h <= 8000):
        raise argparse.ArgumentTypeError("size must be between 200x150 and 8000x8000")
    return w, h


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="Studio: an offline AI creative studio. With no command, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    parser.add_argument(
        "--safe-mode", action="store_true", help="start with no third-party plugins"
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument(
        "--open", metavar="PROJECT", dest="open_project",
        help="open this project (a NAME.studio folder) in the window; `studio PROJECT` does too",
    )  # fmt: skip
    parser.add_argument(
        "--selftest", action="store_true",
        help="check one engine of each panel, the plugins and the window offscreen, then exit",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = sub.add_parser("gui", help="open the studio window (the default)")
    gui.add_argument("--panel", choices=PANEL_IDS, help="raise this panel at start")
    gui.add_argument("--quit-after", type=float, metavar="SECONDS", help=argparse.SUPPRESS)
    gui.add_argument("project", nargs="?", help="a project to open (a NAME.studio folder)")

    doctor = sub.add_parser("doctor", help="check Python, torch, Qt, devices, audio, MIDI, models")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")

    shot = sub.add_parser("shot", help="render the main window with a panel raised to a PNG")
    shot.add_argument("panel", choices=PANEL_IDS)
    shot.add_argument("-o", "--output", required=True, help="PNG file to write")
    shot.add_argument("--size", type=_size, default=(1280, 800), help="WxH, default 1280x800")
    shot.add_argument("--theme", choices=("light", "dark"), help="default: your setting")
    shot.add_argument(
        "--open", metavar="FILE", help="open a project (NAME.studio) or a file in the panel first"
    )
    shot.add_argument("--menu", help="show this menu open (file, edit, view, tools, help)")
    shot.add_argument(
        "--restore", action="store_true", help="restore the unsaved work a killed Studio left"
    )
    shot.add_argument(
        "--generator", metavar="ID", help="show this generator's controls (a plugin's, say)"
    )

    bench = sub.add_parser("bench", help="run benchmarks (default: all)")
    bench.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run, e.g. core")
    bench.add_argument("--json", action="store_true", help="machine-readable output")
    bench.add_argument("--list", action="store_true", help="list the benchmarks")
    bench.add_argument(
        "--gpu", action="store_true", help="the GPU figures, each against its reference"
    )
    bench.add_argument(
        "--minutes", type=float, default=8.0, help="--gpu: the time budget (default 8)"
    )
    bench.add_argument(
        "--device", default="auto", help="--gpu: cuda, cpu or auto (default: cuda if present)"
    )
    bench.add_argument("--tiny", action="store_true", help="--gpu: toy sizes (a quick check)")
    bench.add_argument(
        "--out", default=".", metavar="DIR", help="--gpu: where gpu-bench.json/.md go"
    )

    models = sub.add_parser("models", help="models found in resources and the user model folder")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    mlist = msub.add_parser("list", help="list every model with kind, licence, size and status")
    mlist.add_argument("--json", action="store_true")
    mlist.add_argument("--verify", action="store_true", help="check every sha256 now")

    plugins = sub.add_parser("plugins", help="list or validate plugins")
    psub = plugins.add_subparsers(dest="plugins_command", metavar="ACTION", required=True)
    plist = psub.add_parser("list", help="every plugin with its status")
    plist.add_argument("--json", action="store_true")
    pval = psub.add_parser(
        "validate", help="check a plugin project folder or its studio-plugin.toml"
    )
    pval.add_argument("path")
    pnew = psub.add_parser("new", help="start a plugin project that installs and passes its test")
    pnew.add_argument("name", help="lower-case, e.g. my-arpeggios")
    pnew.add_argument(
        "--kind", required=True, choices=("midi", "image", "voice", "video_mask", "recommender")
    )
    pnew.add_argument("--dir", default=".", help="where to make it (default: here)")

    from studio.project_cli import add_parser as add_project

    add_project(sub)

    from studio.music.cli import add_parser as add_music

    add_music(sub)

    from studio.voice.cli import add_parser as add_voice

    add_voice(sub)

    from studio.video.cli import add_parser as add_video

    add_video(sub)

    from studio.image.cli import add_parser as add_image

    add_image(sub)

    from studio.library.cli import add_parser as add_library

    add_library(sub)

    from studio.arrange.cli import add_parser as add_arrange

    add_arrange(sub)

    gen = sub.add_parser(
        "generate", help="run a generator (built-in or plugin) and save its result"
    )
    gen.add_argument("generator", nargs="?", help="qualified id, e.g. euclid-drums/euclid")
    gen.add_argument(
        "-o", "--output", help="file to write (.mid for MIDI, .wav for audio, .png for a mask)"
    )
    gen.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE")
    gen.add_argument("--list", action="store_true", help="list generators and their parameters")
    return parser


def _print_json(data) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _require_qt_libraries() -> None:
    """Raise a one-line CliError with the apt-get line when Qt's system libraries are missing."""
    from studio.core import syslibs

    missing = syslibs.missing_for_gui()
    if missing:
        raise CliError(
            "Qt needs system libraries that are missing: "
            + ", ".join(missing)
            + ". Install them with: "
            + syslibs.install_line(missing)
        )


def _cmd_gui(args) -> int:
    from studio.core import syslibs

    _require_qt_libraries()
    problem = syslibs.display_problem()
    if problem:
        raise CliError(problem)
    from studio.ui.app import run_gui

    project = getattr(args, "project", None) or getattr(args, "open_project", None)
    if project is not None:
        from studio.project import project_path

        folder = project_path(project)
        if not (folder / "project.toml").is_file():
            raise CliError(f"{project} is not a Studio project (no {folder.name}/project.toml)")
    return run_gui(
        safe_mode=args.safe_mode,
        panel=getattr(args, "panel", None),
        quit_after=getattr(args, "quit_after", None),
        project=project,
    )


def _cmd_shot(args) -> int:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    _require_qt_libraries()
    from studio.ui.shot import render_shot

    path = render_shot(
        args.panel,
        args.output,
        size=args.size,
        theme=args.theme,
        safe_mode=args.safe_mode,
        open_file=args.open,
        generator=args.generator,
        menu=args.menu,
        restore=args.restore,
    )
    print(path)
    return 0


def _cmd_doctor(args) -> int:
    from studio.doctor import format_report, run_doctor

    report = run_doctor(safe_mode=args.safe_mode)
    if args.json:
        _print_json(report)
    else:
        print(format_report(report))
    return 0


def _cmd_bench(args) -> int:
    from studio import bench
    from studio.core.jobs import ConsoleContext

    if args.gpu:
        ctx = ConsoleContext(quiet=args.json)
        return bench.run_gpu(args.minutes, args.device, args.tiny, args.out, args.json, ctx)
    if args.list:
        for name in bench.benchmark_names():
            doc = (bench._resolve(name).__doc__ or "").strip().splitlines()
            print(f"{name:10} {doc[0] if doc else ''}")
        return 0
    try:
        results = bench.run_benchmarks(args.names or None, ConsoleContext(quiet=args.json))
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    if args.json:
        _print_json(results)
    else:
        print(bench.format_results(results))
    return 0


def _settings():
    from studio.core.settings import load_settings

    return load_settings().settings  # its messages were printed once by main()


def _report_settings() -> None:
    """Say what is wrong with settings.toml (each bad value by name), once per command."""
    from studio.core.settings import load_settings

    for message in load_settings().messages:
        print(f"studio: {message}", file=sys.stderr)


def _cmd_models(args) -> int:
    from studio.core.models import ModelIntegrityError, ModelStore

    store = ModelStore(_settings().models_dir())
    entries = store.scan()
    if args.verify:
        for entry in entries:
            if entry.card is not None and not entry.problem:
                try:
                    store.verify(entry)
                except ModelIntegrityError:
                    pass
    rows = [
        {
            "name": e.name,
            "kind": e.kind,
            "licence": e.licence,
            "size_bytes": e.size_bytes,
            "origin": e.origin,
            "status": e.status,
            "path": str(e.path),
            "sha256": e.card.sha256 if e.card else None,
        }
        for e in entries
    ]
    if args.json:
        _print_json({"user_model_dir": str(store.user_dir), "models": rows})
        return 0
    print(f"User model folder: {store.user_dir}")
    if not rows:
        print("No models found.")
        return 0
    print(f"{'NAME':24} {'KIND':10} {'LICENCE':18} {'SIZE':>10}  {'ORIGIN':8} STATUS")
    from studio.core.terminal import printable as p  # names and cards come from files

    for r in rows:
        size = f"{r['size_bytes'] / 2**20:.1f} MB"
        print(
            f"{p(r['name'][:24]):24} {p(r['kind'][:10]):10} {p(r['licence'][:18]):18} "
            f"{size:>10}  {r['origin']:8} {p(r['status'])}"
        )
    return 0


def _registry(args):
    from studio.plugins.registry import PluginRegistry

    settings = _settings()
    registry = PluginRegistry(safe_mode=args.safe_mode, disabled=settings.disabled_plugins)
    registry.discover()
    return registry


def _cmd_plugins(args) -> int:
    if args.plugins_command == "new":
        from studio.plugins.scaffold import new_plugin

        root = new_plugin(args.name, args.kind, args.dir)
        print(f"{root}: a {args.kind} plugin. Next: pip install -e {root}; pytest {root}")
        return 0
    if args.plugins_command == "validate":
        from studio.plugins.validate import validate_plugin

        report = validate_plugin(args.path)
        for warning in report.warnings:
            print(f"warning: {warning}")
        if not report.ok:
            for error in report.errors:
                print(f"error: {error}", file=sys.stderr)
            return 1
        m = report.manifest
        assert m is not None
        kinds = ", ".join(f"{c.id} ({c.kind})" for c in m.contributions)
        print(f"ok: {m.plugin.name} {m.plugin.version}, API {m.plugin.api_version}: {kinds}")
        return 0
    from studio.core.terminal import printable

    registry = _registry(args)
    records = registry.records
    if args.json:
        _print_json([r.as_dict() for r in records])
        return 0
    print(f"{'PLUGIN':22} {'VERSION':9} {'SOURCE':9} {'STATUS':22} CONTRIBUTIONS")
    for r in records:
        contribs = ", ".join(
            f"{c.id} ({c.kind})" for c in (r.manifest.contributions if r.manifest else [])
        )
        print(
            f"{printable(r.name[:22]):22} {printable(r.version[:9]):9} "
            f"{'built-in' if r.builtin else 'plugin':9} {r.status[:22]:22} {printable(contribs)}"
        )
        if r.error:
            print(f"    {printable(r.error.strip().splitlines()[-1])}")
    return 0


def _cmd_music(args) -> int:
    from studio.music.cli import run

    return run(args)


def _cmd_voice(args) -> int:
    from studio.voice.cli import run

    return run(args)


def _cmd_library(args) -> int:
    from studio.library.catalog import CatalogError
    from studio.library.cli import run
    from studio.library.history import HistoryError

    try:
        return run(args)
    except (CatalogError, HistoryError) as exc:  # they say what is wrong in words
        raise CliError(str(exc)) from None


def _cmd_image(args) -> int:
    from studio.image.cli import run

    return run(args)


def _cmd_video(args) -> int:
    from studio.video.cli import run

    return run(args)


def _cmd_generate(args) -> int:
    from pathlib import Path

    from studio.core.devices import pick_device
    from studio.core.jobs import ConsoleContext
    from studio.core.media import AudioClip, Image, Mask, MidiClip

    registry = _registry(args)
    if args.list or not args.generator:
        for ref in registry.contributions():
            gen = registry.generator(ref)
            print(f"{ref.id}  [{ref.kind}]  {ref.title}")
            for p in gen.params:
                extra = f" {p.minimum}..{p.maximum}" if p.minimum is not None else ""
                extra += f" one of {', '.join(p.choices)}" if p.choices else ""
                print(f"    {p.name}={p.default!r}  ({p.type}{extra}) {p.help}")
        return 0
    request: dict[str, str] = {}
    for item in args.param:
        if "=" not in item:
            raise CliError(f"parameter {item!r} must look like NAME=VALUE")
        key, value = item.split("=", 1)
        request[key.strip()] = value
    try:
        ref = registry.get(args.generator)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    # a kind's inputs (text for a voice) are passed as parameters too
    inputs = {"voice": {"text", "voice"}, "video_mask": {"frame"}, "transcriber": {"audio"},
              "annotator": {"text"}}.get(ref.kind, set())  # fmt: skip
    known = {p.name for p in registry.generator(ref).params} | inputs
    unknown = sorted(set(request) - known)
    if unknown:
        raise CliError(f"{ref.id} has no parameter {', '.join(unknown)} (has {', '.join(known)})")
    run_request: dict[str, object] = dict(request)
    if ref.kind == "video_mask":  # frame=PICTURE: the image file to segment
        run_request["frame"] = _read_picture(request.get("frame", ""))
    if ref.kind == "transcriber":  # audio=SOUND: the recording to transcribe
        run_request["audio"] = _read_audio(request.get("audio", ""))
    result = registry.run(
        ref.id, run_request, ConsoleContext(), device=pick_device(_settings().device)
    )
    if isinstance(result, MidiClip):
        out = Path(args.output or "generated.mid")
        result.save(out)
        print(
            f"{out}: {len(result.notes)} notes, {result.bars:g} bars at {result.bpm:g} BPM, "
            f"seed {result.provenance.get('seed', '?')}"
        )
    elif isinstance(result, AudioClip):
        out = Path(args.output or "generated.wav")
        result.save_wav(out)
        print(f"{out}: {result.duration:.2f} s")
    elif isinstance(result, Image):
        import json

        from studio.image.io import Picture, save_picture

        out = Path(args.output or "generated.png")
        info = dict(result.provenance)
        level = info.pop("map", None)
        save_picture(Picture(result.pixels, info), out)
        extra = ""
        if isinstance(level, dict):  # a generator's structured result (a game map...)
            data_path = out.with_suffix(".json")
            data_path.write_text(json.dumps(level, indent=1), encoding="utf-8")
            extra = f", map in {data_path.name}"
        print(f"{out}: {result.size[0]}x{result.size[1]}{extra}")
    elif isinstance(result, Mask):
        out = Path(args.output or "mask.png")
        _write_mask(result, out)
        print(f"{out}: {result.size[0]}x{result.size[1]} mask")
    else:
        print(result)
    return 0


def _read_audio(path: str):
    from studio.core.media import AudioClip

    if not path:
        raise CliError("a transcriber needs audio=SOUND (a WAV, FLAC or OGG file)")
    import soundfile

    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=False)
    except (OSError, RuntimeError) as exc:
        raise CliError(f"cannot read {path} as sound: {exc}") from None
    return AudioClip(samples, int(rate))


def _read_picture(path: str):
    from studio.core.media import Image

    if not path:
        raise CliError("a video_mask generator needs frame=PICTURE (an image file)")
    import cv2

    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise CliError(f"cannot read {path} as a picture")
    return Image(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _write_mask(mask, out) -> None:
    import cv2
    import numpy as np

    alpha = mask.alpha
    if alpha.dtype != np.uint8:
        alpha = (np.clip(alpha, 0, 1) * 255 + 0.5).astype(np.uint8)
    if not cv2.imwrite(str(out), alpha):
        raise CliError(f"could not write {out}")


def _cmd_project(args) -> int:
    from studio.project_cli import run

    return run(args)


def _cmd_arrange(args) -> int:
    from studio.arrange.cli import ArrangeError, run

    try:
        return run(args)
    except ArrangeError as exc:
        raise CliError(str(exc)) from exc


COMMANDS = {
    None: _cmd_gui,
    "gui": _cmd_gui,
    "doctor": _cmd_doctor,
    "shot": _cmd_shot,
    "bench": _cmd_bench,
    "models": _cmd_models,
    "plugins": _cmd_plugins,
    "generate": _cmd_generate,
    "music": _cmd_music,
    "voice": _cmd_voice,
    "video": _cmd_video,
    "image": _cmd_image,
    "library": _cmd_library,
    "project": _cmd_project,
    "arrange": _cmd_arrange,
}


def _project_argv(argv: Sequence[str] | None) -> list[str] | None:
    """``studio song.studio`` means ``studio gui song.studio``."""
    items = list(sys.argv[1:] if argv is None else argv)
    at = 0
    while at < len(items) and items[at].startswith("-"):
        at += 2 if items[at] == "--open" else 1  # --open takes a value
    if (
        at < len(items)
        and items[at] not in COMMANDS
        and (items[at].endswith(".studio") or Path(items[at], "project.toml").is_file())
    ):
        return [*items[:at], "gui", *items[at:]]
    return None if argv is None else items


def _says_it_in_words(exc: BaseException) -> bool:
    """Whether the exception's own text is the whole message: ours (a studio error, or a
    ValueError raised with a sentence about the input) need no class name in front of them."""
    if isinstance(exc, CliError):
        return True
    studio_error = type(exc).__module__.split(".")[0] == "studio"
    return (studio_error or type(exc) is ValueError) and bool(str(exc).strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``studio`` command. Returns the exit status."""
    args = build_parser().parse_args(_project_argv(argv))
    if args.safe_mode:
        os.environ["STUDIO_SAFE_MODE"] = "1"
    if args.selftest:
        from studio.selftest import format_table, run_selftest

        results = run_selftest()
        print(format_table(results), flush=True)
        return 0 if all(r.ok for r in results) else 1
    try:
        if args.command not in (None, "gui", "doctor"):  # the window and doctor show them
            _report_settings()
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `studio ... | head`: the reader left; not an error worth a message
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - one line for users, the traceback with --debug
        if args.debug:
            raise
        from studio.core.jobs import describe_error

        code = exc.code if isinstance(exc, CliError) else 1
        message = str(exc) if _says_it_in_words(exc) else describe_error(exc)
        from studio.core.terminal import printable

        shown = "\n".join(printable(line) for line in message.split("\n"))  # it may quote a file
        print(f"studio: {shown}", file=sys.stderr)
        return code
