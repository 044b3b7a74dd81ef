"""The ``studio image train-tagger``, ``tag`` and ``icon-folder`` commands."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

SHIPPED_TAGGER = "openmoji-tagger.safetensors"


def user_tagger_dir() -> Path:
    """``<model folder>/tagger``: where trained taggers go and are found."""
    from studio.core.models import ModelStore

    return ModelStore.from_settings().user_dir / "tagger"


def default_tagger() -> Path:
    """The newest tagger in the user model folder, else the shipped OpenMoji tagger.

    Raises ValueError when there is neither.
    """
    found = sorted(user_tagger_dir().glob("*.safetensors"), key=lambda p: p.stat().st_mtime)
    if found:
        return found[-1]
    try:
        from studio.core.resources import resources_dir

        shipped = resources_dir() / "models" / "image" / SHIPPED_TAGGER
        if shipped.is_file():
            return shipped
    except Exception:  # no resources folder: fall through to the message
        pass
    raise ValueError(
        "no tagger found: train one with `studio image train-tagger DIR` or pass --model"
    )


def run_tagger_command(args, ctx) -> int:
    cmd = args.image_command
    if cmd == "icon-folder" and (args.captions or args.game_icons):
        from studio.image.icons import export_captioned_icons

        counts = export_captioned_icons(
            args.output,
            openmoji_json=None if args.labels == "-" else args.labels,
            game_icons_json=args.game_icons,
            size=args.size,
            ctx=ctx,
        )
        print(
            f"{args.output}: {counts['train']} captioned icons in train/, "
            f"{counts['heldout']} in heldout/ (each with captions.json)"
        )
        return 0
    if cmd == "icon-folder":
        from studio.image.icons import export_openmoji

        counts = export_openmoji(args.labels, args.output, args.size, by=args.by, ctx=ctx)
        total = sum(v for k, v in counts.items() if not k.startswith("("))
        print(f"{args.output}: {total} icons in {len([k for k in counts if k[0] != '('])} folders")
        for label, count in sorted(counts.items()):
            print(f"  {label}: {count}")
        return 0
    if cmd == "train-tagger":
        from studio.core.devices import pick_device
        from studio.image.tagger import train_tagger

        models = tuple(m.strip() for m in args.models.split(",") if m.strip())
        bad = sorted(set(models) - {"transfer", "scratch"})
        if bad or not models:
            raise ValueError(
                f"--models takes transfer and/or scratch, not {', '.join(bad) or '(none)'}"
            )
        output = (
            Path(args.output)
            if args.output
            else (user_tagger_dir() / f"{Path(args.folder).resolve().name}.safetensors")
        )
        command = (
            "studio image " + " ".join(shlex.quote(a) for a in sys.argv[2:])
            if (len(sys.argv) > 2 and sys.argv[1] == "image")
            else f"studio image train-tagger {args.folder}"
        )
        report = train_tagger(
            args.folder,
            output,
            size=args.size,
            epochs=args.epochs,
            fine_tune=args.fine_tune,
            mirror=not getattr(args, "no_mirror", False),
            zoom=not getattr(args, "no_zoom", False),
            seed=args.seed,
            models=models,
            command=command,
            resume=not getattr(args, "fresh", False),
            device=pick_device(getattr(args, "device", "auto")),
            precision=getattr(args, "precision", "auto"),
            ctx=ctx,
        )
        if args.json:
            json.dump(report.as_json(), sys.stdout, indent=2)
            print()
            return 0
        print(
            f"{len(report.labels)} labels, {report.n_train} training, {report.n_val} validation, "
            f"{report.n_test} held-out pictures; {len(report.skipped)} unreadable skipped"
        )
        for _file, why in report.skipped[:10]:
            print(f"  skipped {why}")
        if len(report.skipped) > 10:
            print(f"  ... and {len(report.skipped) - 10} more")
        if report.note:
            print(f"note: {report.note}")
        if report.resumed:
            print(f"resumed from the checkpoint of a stopped run: {report.resumed}")
        print(report.table())
        for m in report.models.values():
            print(f"\n{m['title']}: per-class precision / recall on the held-out pictures")
            for label, p, r in zip(report.labels, m["precision"], m["recall"], strict=True):
                print(f"  {label:<28} {p:.3f} / {r:.3f}")
        print(
            f"\nsaved {report.chosen} (better validation accuracy, trained in "
            f"{report.precision}) to {report.model_file}"
        )
        if report.confusion_png:
            print(f"confusion matrices: {report.confusion_png}")
        return 0
    if cmd == "tag":
        from studio.image.tagger import load_tagger, tag_files

        path = Path(args.model) if args.model else default_tagger()
        tagger = load_tagger(path)
        results = tag_files(tagger, args.files, args.top)
        if args.json:
            json.dump({"model": str(path), "results": results}, sys.stdout, indent=2)
            print()
        else:
            for r in results:
                if "error" in r:
                    print(f"{r['file']}: {r['error']}")
                else:
                    tags = ", ".join(f"{t['label']} {t['confidence']:.2f}" for t in r["tags"])
                    print(f"{r['file']}: {tags}")
        return 1 if all("error" in r for r in results) else 0
    raise ValueError(f"unknown image action {cmd}")
