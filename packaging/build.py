"""Build the one-folder desktop app: ``python packaging/build.py`` (``make package``).

1. PyInstaller makes ``dist/studio/`` from ``packaging/pyinstaller/studio.spec``.
2. The launcher files go beside it: ``studio.desktop``, the AppStream metainfo and the icon, laid
   out as ``share/`` so the folder can be copied to ``/opt/studio`` or ``~/.local``.
3. Licences: Studio's, ``NOTICES.md``, and a generated ``THIRD-PARTY.md`` naming every bundled
   distribution with its version and licence (from its metadata).
4. ``SIZE.txt`` reports the folder's size by component; a ``.tar.gz`` of it is made.

Build outputs go under ``dist/`` and ``build/``, which git ignores.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def third_party_notices() -> str:
    lines = ["# Third-party components bundled in this build", "",
             "| Distribution | Version | Licence |", "|---|---|---|"]  # fmt: skip
    dists = importlib.metadata.distributions()
    for dist in sorted(dists, key=lambda d: (d.metadata["Name"] or "").lower()):
        meta = dist.metadata
        licence = meta.get("License-Expression") or meta.get("License") or ""
        if not licence or len(licence) > 80:
            classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or []
                           if c.startswith("License ::")]  # fmt: skip
            licence = ", ".join(classifiers) or (licence[:77] + "…" if licence else "see package")
        lines.append(f"| {meta['Name']} | {dist.version} | {licence} |")
    lines += ["", "Model weights and their licences: see `NOTICES.md` and the model cards under",
              "`_internal/studio/_resources/models/`."]  # fmt: skip
    return "\n".join(lines) + "\n"


def size_report(folder: Path) -> str:
    """MB by component: the largest top-level entries of the bundle."""
    internal = folder / "_internal" if (folder / "_internal").is_dir() else folder
    sizes = []
    for entry in internal.iterdir():
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        sizes.append((sum(p.stat().st_size for p in files), entry.name))
    total = sum(s for s, _ in sizes)
    lines = [f"{'component':40} {'MB':>8}"]
    for size, name in sorted(sizes, reverse=True)[:40]:
        lines.append(f"{name:40} {size / 1e6:8.1f}")
    lines.append(f"{'total':40} {total / 1e6:8.1f}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-pyinstaller", action="store_true",
                        help="only lay out the files around an existing dist/studio")  # fmt: skip
    args = parser.parse_args()
    dist = ROOT / "dist"
    app = dist / "studio"
    if not args.skip_pyinstaller:
        subprocess.run(
            [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--distpath",
             str(dist), "--workpath", str(ROOT / "build" / "pyinstaller"),
             str(ROOT / "packaging" / "pyinstaller" / "studio.spec")],
            check=True,
        )  # fmt: skip
    if not (app / "studio").exists():
        print(f"no app at {app}: run without --skip-pyinstaller", file=sys.stderr)
        return 1
    share = app / "share"
    (share / "applications").mkdir(parents=True, exist_ok=True)
    (share / "metainfo").mkdir(parents=True, exist_ok=True)
    (share / "icons" / "hicolor" / "scalable" / "apps").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "packaging" / "linux" / "studio.desktop", share / "applications")
    shutil.copy(ROOT / "packaging" / "linux" / "io.github.studio.Studio.metainfo.xml",
                share / "metainfo")  # fmt: skip
    shutil.copy(ROOT / "resources" / "icons" / "studio.svg",
                share / "icons" / "hicolor" / "scalable" / "apps" / "studio.svg")  # fmt: skip
    shutil.copy(ROOT / "LICENSE", app / "LICENSE")
    shutil.copy(ROOT / "resources" / "NOTICES.md", app / "NOTICES.md")
    shutil.copytree(ROOT / "resources" / "licenses", app / "licenses", dirs_exist_ok=True)
    (app / "THIRD-PARTY.md").write_text(third_party_notices(), encoding="utf-8")
    report = size_report(app)
    (app / "SIZE.txt").write_text(report, encoding="utf-8")
    print(report)
    archive = dist / "studio-linux-x86_64.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(app, arcname="studio")
    print(f"{app} and {archive} ({archive.stat().st_size / 1e6:.0f} MB)")
    print(f"check it offline: unshare -n {app / 'studio'} --selftest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
