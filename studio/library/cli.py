"""``studio library ...``: add, scan, list, search, recommend, feedback, import-history, features,
duplicates, eval."""

from __future__ import annotations

import json
import sys

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    lib = sub.add_parser("library", help="catalog your media and get recommendations")
    ls = lib.add_subparsers(dest="library_command", metavar="ACTION", required=True)
    add = ls.add_parser("add", help="add folders and scan them")
    add.add_argument("folders", nargs="+")
    add.add_argument("--no-features", action="store_true", help="skip embeddings and features")
    ls.add_parser("scan", help="rescan every added folder (only what changed is read)")
    lst = ls.add_parser("list", help="the catalog")
    lst.add_argument("--kind", choices=("audio", "midi", "image", "video"))
    lst.add_argument("--json", action="store_true")
    lst.add_argument("-n", type=int, default=100)
    search = ls.add_parser("search", help="items whose title, artist, tags or path match")
    search.add_argument("text")
    search.add_argument("--kind", choices=("audio", "midi", "image", "video"))
    rec = ls.add_parser("recommend", help="what to play, look at or use next, and why")
    rec.add_argument("--like", type=int, metavar="ID", help="more like this item")
    rec.add_argument("-n", type=int, default=10)
    rec.add_argument("--kind", choices=("audio", "midi", "image", "video"))
    rec.add_argument("--engine", default="hybrid",
                     choices=("hybrid", "als", "item-knn", "user-knn", "svd", "svdpp", "tfidf",
                              "content", "wide-deep", "deepfm", "popularity"))  # fmt: skip
    rec.add_argument(
        "--any-kind",
        action="store_true",
        help="with --like: suggest every kind, not only the item's own",
    )
    rec.add_argument("--json", action="store_true")
    fb = ls.add_parser("feedback", help="tell the library what you think of an item")
    fb.add_argument("item", type=int, metavar="ID")
    fb.add_argument("what", choices=("like", "dislike", "play", "skip", "keep", "reject"))
    imp = ls.add_parser("import-history", help="a ListenBrainz or Last.fm export, or a ratings CSV")
    imp.add_argument("file")
    ls.add_parser("features", help="compute embeddings and media features now")
    ls.add_parser("duplicates", help="files with the same content")
    ev = ls.add_parser("eval", help="compare the recommenders on MovieLens (offline)")
    ev.add_argument("--dataset", choices=("movielens",), default="movielens")
    ev.add_argument(
        "--protocol",
        choices=("ranking", "rating", "all"),
        default="all",
        help="ranking: top-10 by time and leave-last-one-out; rating: 5-fold RMSE/MAE",
    )
    ev.add_argument(
        "--models", help="only these model ids, comma-separated (the rating baselines always run)"
    )
    ev.add_argument(
        "--quick",
        action="store_true",
        help="smaller grids and fewer epochs (for a try; the table says so)",
    )
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--users", type=int, help="only the first N users (faster, for a try)")
    ev.add_argument("--genres-only", action="store_true",
                    help="content from genres instead of MiniLM embeddings (faster)")  # fmt: skip


def run(args) -> int:
    """Run one ``studio library`` action; a refused or damaged library file ends in one
    ``studio:`` line in words, never a bare exception name."""
    import sqlite3

    from studio.library.catalog import CatalogError, default_catalog_path

    try:
        return _run(args)
    except sqlite3.DatabaseError as exc:
        raise CatalogError(
            f"the library at {default_catalog_path()} cannot be read ({exc}); it was left as it "
            "is: `studio doctor` checks it"
        ) from None


def _run(args) -> int:
    from studio.core.jobs import ConsoleContext
    from studio.core.terminal import printable as p

    cmd = args.library_command
    if cmd == "eval":
        from studio.library.evaluate import format_table, run_evaluation

        models = tuple(m.strip() for m in args.models.split(",")) if args.models else None
        results = run_evaluation(
            args.users,
            embed=not args.genres_only,
            ctx=ConsoleContext(),
            protocol=args.protocol,
            quick=args.quick,
            models=models,
        )
        if args.json:
            json.dump(results, sys.stdout, indent=2, default=str)
            print()
        else:
            print(format_table(results))
        return 0
    from studio.library.catalog import Catalog
    from studio.library.service import Library

    catalog = Catalog()
    if cmd in ("add", "scan"):
        folders = [catalog.add_folder(f) for f in args.folders] if cmd == "add" else None
        report = catalog.scan(folders, ConsoleContext())
        print(report.summary() + f" in {report.seconds:.1f} s")
        for error in report.errors[:20]:
            print(f"⚠ {p(error)}", file=sys.stderr)
        if len(report.errors) > 20:
            print(f"⚠ … and {len(report.errors) - 20} more", file=sys.stderr)
        if cmd == "add" and not args.no_features:
            done = Library(catalog, _registry()).compute_features(ConsoleContext())
            print(f"features for {done} items")
        return 0
    if cmd in ("list", "search"):
        items = (catalog.items(kind=args.kind, limit=args.n) if cmd == "list"
                 else catalog.search(args.text, args.kind))  # fmt: skip
        if cmd == "list" and args.json:
            json.dump([item.__dict__ for item in items], sys.stdout, indent=2, default=str)
            print()
            return 0
        for item in items:
            length = f" {item.duration:.0f}s" if item.duration else ""
            size = f" {item.width}x{item.height}" if item.width else ""
            print(f"{item.id:6}  {item.kind:5}  {p(item.label)}{length}{size}  ({p(item.path)})")
        if not items:
            print(
                "nothing found"
                if cmd == "search"
                else "the library is empty: studio library add DIR"
            )
        return 0
    if cmd == "recommend":
        suggestions = Library(catalog).recommend(args.n, args.kind, args.like, engine=args.engine,
                                                 same_kind=not args.any_kind)  # fmt: skip
        if args.json:
            rows = [{"id": s.item.id, "title": s.item.label, "path": s.item.path,
                     "score": s.score, "reason": s.reason} for s in suggestions]  # fmt: skip
            json.dump(rows, sys.stdout, indent=2)
            print()
            return 0
        for s in suggestions:
            print(f"{s.item.id:6}  {p(s.item.label)}  — {p(s.reason)}  [{s.score:.2f}]")
        if not suggestions:
            print("nothing to suggest yet: add folders, and play, like or keep a few items")
        return 0
    if cmd == "feedback":
        catalog.add_event(args.item, args.what)
        print(f"{p(catalog.item(args.item).label)}: {args.what}")
        return 0
    if cmd == "import-history":
        from studio.library.history import import_history

        result = import_history(catalog, args.file, ConsoleContext())
        print(p(", ".join(f"{k}: {v}" for k, v in result.items())))
        return 0
    if cmd == "features":
        done = Library(catalog, _registry()).compute_features(ConsoleContext())
        print(f"features for {done} items")
        return 0
    if cmd == "duplicates":
        groups = catalog.duplicates()
        for group in groups:
            print("same content: " + "  |  ".join(p(item.path) for item in group))
        if not groups:
            print("no duplicates")
        return 0
    raise ValueError(f"unknown library action {cmd}")


def _registry():
    """The plugins, for their annotators (a review's sentiment joins an item's features)."""
    from studio.plugins.registry import PluginRegistry

    registry = PluginRegistry()
    registry.discover()
    return registry
