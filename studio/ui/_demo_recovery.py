"""Leave a recovery copy of a small unsaved project, as a Studio killed mid-work would (for the
documentation's "Restore unsaved work" shot: ``make shots``).

    python -m studio.ui._demo_recovery [PROJECT]    # default: the format-1 test project's files
"""

from __future__ import annotations

import sys
from pathlib import Path

from studio.project import Project, Recovery


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else Path("tests/data/projects/format1-song.studio")
    project = Project.open(source, lock=False)
    project.path = Path.home() / "Music" / "sea-song.studio"
    voice = project.document("voice")
    voice.set("Edit text", text=voice.text + "Sing me a song of a lass that is gone.\n")
    recovery = Recovery()
    recovery.autosave(project.snapshot(), project.path)
    recovery._lock.release()  # as a kill -9 frees it
    print(recovery.folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
