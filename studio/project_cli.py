"""``studio project``: make, inspect and export projects from scripts (no window, no Qt)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio.core.document import DocumentError
from studio.project import Project, ProjectError, document_class, project_path

__all__ = ["add_parser", "run"]

EXPORT_PANELS = ("music", "voice", "image", "video", "library")


def add_parser(sub) -> None:
    project = sub.add_parser("project", help="make, inspect and export Studio projects")
    psub = project.add_subparsers(dest="project_command", metavar="ACTION", required=True)
    new = psub.add_parser("new", help="start a project from files")
    new.add_argument("path", help="the project folder to make (NAME or NAME.studio)")
    new.add_argument("--music", metavar="FILE.mid", help="a MIDI file for the Music panel")
    new.add_argument("--image", metavar="PICTURE", help="a picture for the Image panel")
    new.add_argument("--text", metavar="FILE", help="a text or SSML file for the Voice panel")
    new.add_argument("--force", action="store_true", help="replace an existing project's documents")
    info = psub.add_parser("info", help="documents, files, sizes, versions and provenance")
    info.add_argument("path")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    export = psub.add_parser("export", help="write one panel's document as a plain file")
    export.add_argument("path")
    export.add_argument("--panel", required=True, choices=EXPORT_PANELS)
    export.add_argument("-o", "--output", required=True, help="the file to write (.mid, .png, ...)")


def run(args: argparse.Namespace) -> int:
    from studio.cli import CliError

    try:
        if args.project_command == "new":
            return _new(args)
        if args.project_command == "info":
            return _info(args)
        return _export(args)
    except (ProjectError, DocumentError) as exc:
        raise CliError(str(exc)) from exc


def _new(args) -> int:
    from studio.cli import CliError

    path = project_path(args.path)
    if (path / "project.toml").exists() and not args.force:
        raise CliError(f"{path} already exists (use --force to replace its documents)")
    if path.exists() and not (path / "project.toml").exists() and any(path.iterdir()):
        raise CliError(f"{path} is a folder that is not a Studio project")
    project = Project()
    for kind, file in (("music", args.music), ("image", args.image), ("voice", args.text)):
        if file is None:
            continue
        if not Path(file).is_file():
            raise CliError(f"{file}: no such file")
        doc = document_class(kind).from_file(Path(file))
        project.documents[kind] = doc
        project.use_item(str(Path(file).resolve()))
    for kind in ("music", "image", "video", "voice", "library"):
        project.document(kind)
    out = project.save(path)
    project.close()
    print(out)
    return 0


def _info(args) -> int:
    project = Project.open(args.path, lock=False)
    data = project.info()
    if args.json:
        json.dump(data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    from studio.core.terminal import printable as p  # names and summaries come from files

    print(f"{p(data['name'])}  ({p(data['path'])})")
    print(f"format {data['format']}, saved by Studio {p(data['studio_version'])} on "
          f"{p(data['saved'])}")  # fmt: skip
    print(f"{_size(data['bytes'])} in all")
    for kind, doc in data["documents"].items():
        missing = [f["name"] for f in doc["files"] if f["missing"]]
        line = f"  {p(kind):8} v{doc['version']}  {_size(doc['bytes']):>9}  {p(doc['summary'])}"
        print(line.rstrip())
        if doc["history"]:
            print(f"           history: {len(doc['history'])} steps, last: "
                  f"{p(doc['history'][-1])}")  # fmt: skip
        if missing:
            print(f"           missing: {p(', '.join(missing))}")
    for message in data["messages"]:
        print(f"  ⚠ {p(message)}")
    return 0


def _export(args) -> int:
    from studio.cli import CliError

    project = Project.open(args.path, lock=False)
    if args.panel not in project.documents:
        problems = "; ".join(project.messages) or "it has none"
        raise CliError(f"{project.name} has no {args.panel} document ({problems})")
    doc = project.documents[args.panel]
    suffixes = getattr(doc, "EXPORT_SUFFIXES", ())
    out = Path(args.output)
    if suffixes and out.suffix.lower() not in suffixes:
        given = out.suffix or "a file without a suffix"
        raise CliError(f"the {args.panel} document exports as {', '.join(suffixes)}, not {given}")
    written = doc.export(out)
    print(written)
    return 0


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
