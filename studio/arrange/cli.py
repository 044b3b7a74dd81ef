"""``studio arrange``: put files on a project's timeline, list it, and render it from scripts
(no window, no Qt)::

    studio arrange add song.studio vocals.wav --at 5 --lane 2
    studio arrange list song.studio --json
    studio arrange render song.studio -o song.mp4 --stems stems/ --lufs -14
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from studio.core.document import DocumentError
from studio.project import Project, ProjectError

__all__ = ["add_parser", "run", "ArrangeError"]


class ArrangeError(Exception):
    """A failure to report as one line (``studio.cli`` turns it into its CliError)."""


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ArrangeError(f"--size must look like 1280x720, not {text!r}") from None
    if not (16 <= width <= 7680 and 16 <= height <= 4320):
        raise ArrangeError("--size must be between 16x16 and 7680x4320")
    return width, height


def add_parser(sub) -> None:
    arrange = sub.add_parser("arrange", help="arrange a project's music, takes and video, and "
                             "render the mix or a music video")  # fmt: skip
    asub = arrange.add_subparsers(dest="arrange_command", metavar="ACTION", required=True)
    add = asub.add_parser("add", help="put a MIDI, audio, video or picture file on the timeline")
    add.add_argument("project", help="a NAME.studio folder (made when it does not exist)")
    add.add_argument("file")
    add.add_argument(
        "--at",
        type=float,
        default=1.0,
        metavar="BAR",
        help="the bar it starts at (1 is the first; 2.5 is half way into bar 2)",
    )
    add.add_argument("--lane", type=int, metavar="N",
                     help="lane number (1 is the top; default: a new lane)")  # fmt: skip
    lst = asub.add_parser("list", help="lanes and clips")
    lst.add_argument("project")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    render = asub.add_parser("render", help="mix and master to WAV or FLAC, or a music video MP4")
    render.add_argument("project")
    render.add_argument("-o", "--output", required=True, help="OUT.wav, OUT.flac or OUT.mp4")
    render.add_argument("--stems", metavar="DIR", help="also write one file per lane here")
    render.add_argument("--lufs", type=float, help="loudness target (default: the project's, "
                        "-14)")  # fmt: skip
    render.add_argument("--no-master", action="store_true", help="no loudness mastering")
    render.add_argument("--size", default="1280x720", help="video size, default 1280x720")
    render.add_argument("--fps", type=float, default=30.0, help="video frame rate, default 30")


def run(args: argparse.Namespace) -> int:
    try:
        if args.arrange_command == "add":
            return _add(args)
        if args.arrange_command == "list":
            return _list(args)
        return _render(args)
    except (ProjectError, DocumentError) as exc:
        raise ArrangeError(str(exc)) from exc


def _open(path: str, create: bool = False) -> Project:
    from studio.project import project_path

    folder = project_path(path)
    if create and not (folder / "project.toml").exists():
        return Project(path=None)
    return Project.open(folder)


def _add(args) -> int:
    from studio.project import project_path

    project = _open(args.project, create=True)
    try:
        doc = project.document("arrange")
        lane_id = None
        if args.lane is not None:
            if not 1 <= args.lane <= len(doc.lanes):
                raise ArrangeError(f"there is no lane {args.lane} (the project has "
                               f"{len(doc.lanes)}); leave --lane out for a new one")  # fmt: skip
            lane_id = doc.lanes[args.lane - 1].id
        if args.at < 1:
            raise ArrangeError("--at counts bars from 1")
        clip = doc.add_file(Path(args.file), at=(args.at - 1) * doc.bar_length, lane_id=lane_id)
        project.use_item(str(Path(args.file).resolve()))
        out = project.save(project.path or project_path(args.project))
        lane = doc.lane(clip.lane)
        print(f"{out}: {Path(args.file).name} on lane {doc.lane_index(clip.lane) + 1} "
              f"({lane.name if lane else '?'}) at bar {args.at:g}")  # fmt: skip
    finally:
        project.close()
    return 0


def listing(doc) -> dict:
    """What ``studio arrange list --json`` prints."""
    lanes = []
    for index, lane in enumerate(doc.lanes, start=1):
        clips = []
        for clip in doc.lane_clips(lane.id):
            source = doc.source(clip.source)
            clips.append({
                "id": clip.id, "source": source.name if source else "?",
                "kind": source.kind if source else "?", "file": source.path if source else "",
                "missing": bool(source and source.missing), "start_beat": clip.start,
                "start_bar": 1 + clip.start / doc.bar_length, "length_beats": clip.length,
                "start_seconds": round(doc.seconds_at(clip.start), 4),
                "end_seconds": round(doc.seconds_at(clip.end), 4), "offset": clip.offset,
                "loop": clip.loop, "fade_in": clip.fade_in, "fade_out": clip.fade_out,
            })  # fmt: skip
        lanes.append({"number": index, "id": lane.id, "name": lane.name, "kind": lane.kind,
                      "gain_db": lane.gain_db, "pan": lane.pan, "mute": lane.mute,
                      "solo": lane.solo, "effects": dataclasses.asdict(lane.effects),
                      "clips": clips})  # fmt: skip
    return {
        "bpm": doc.bpm, "meter": f"{doc.beats_per_bar}/{doc.beat_unit}",
        "tempo_changes": [list(c) for c in doc.tempo_changes], "seconds": round(doc.seconds, 3),
        "master_gain_db": doc.master_gain_db, "target_lufs": doc.target_lufs,
        "lanes": lanes, "missing": doc.missing(),
    }  # fmt: skip


def _list(args) -> int:
    project = Project.open(args.project, lock=False)
    doc = project.document("arrange")
    data = listing(doc)
    if args.json:
        json.dump(data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    print(f"{doc.summary()}, meter {data['meter']}")
    for lane in data["lanes"]:
        flags = "".join(f for f, on in (("M", lane["mute"]), ("S", lane["solo"])) if on)
        print(f"{lane['number']:>3}  {lane['name'][:24]:24} {lane['kind']:5} "
              f"{lane['gain_db']:+5.1f} dB  pan {lane['pan']:+.2f} {flags}")  # fmt: skip
        for clip in lane["clips"]:
            gone = "  MISSING" if clip["missing"] else ""
            print(f"       bar {clip['start_bar']:<6g} {clip['length_beats']:>6g} beats  "
                  f"{clip['source']}{' (loop)' if clip['loop'] else ''}{gone}")  # fmt: skip
    for line in data["missing"]:
        print(f"warning: {line}", file=sys.stderr)
    return 0


def _render(args) -> int:
    from studio.arrange.export import (
        AUDIO_OUT,
        VIDEO_OUT,
        ExportError,
        export_audio,
        export_stems,
        export_video,
    )
    from studio.arrange.mix import render_mix
    from studio.core.jobs import ConsoleContext

    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in AUDIO_OUT + VIDEO_OUT:
        raise ArrangeError(f"{out.name}: render to .wav, .flac or .mp4")
    size = _size(args.size) if suffix in VIDEO_OUT else (0, 0)
    project = Project.open(args.project, lock=False)
    doc = project.document("arrange")
    target = None if args.no_master else (args.lufs if args.lufs is not None else doc.target_lufs)
    ctx = ConsoleContext()
    try:
        result = render_mix(doc, ctx, stems=bool(args.stems), target_lufs=target)
        if suffix in VIDEO_OUT:
            export_video(doc, result, out, ctx, size=size, fps=args.fps)
        else:
            export_audio(result, out)
        stems = export_stems(result, args.stems) if args.stems else []
    except (ValueError, ExportError) as exc:
        raise ArrangeError(str(exc)) from exc
    except OSError as exc:
        raise ArrangeError(f"could not write {out}: {exc.strerror or exc}; nothing was left "
                       "behind") from exc  # fmt: skip
    for line in result.messages:
        print(f"warning: {line}", file=sys.stderr)
    print(f"{out}: {result.seconds:.1f} s, {result.loudness:.1f} LUFS integrated, true peak "
          f"{result.true_peak:.1f} dBTP" + (f", {len(stems)} stems in {args.stems}"
                                              if stems else ""))  # fmt: skip
    return 0
