"""The Image panel's live preview and Apply share the person segmenter (one LiteRT interpreter,
not thread-safe) while Tools ▸ Release loaded models is pressed again and again: every matte is
the one the picture gives alone, and nothing fails. A few seconds in the suite; a minute with
STUDIO_STRESS_SECONDS=60 (make stress)."""

from __future__ import annotations

import os
import threading
import time

import numpy as np

SECONDS = float(os.environ.get("STUDIO_STRESS_SECONDS", "3"))


def test_previews_and_applies_together_with_releases_give_the_same_mattes():
    from skimage import data

    from studio.core.models import release_idle_hosts
    from studio.image.cutout import person_matte

    photo = np.ascontiguousarray(data.astronaut())
    small = np.ascontiguousarray(photo[::4, ::4])
    want = {"preview": person_matte(small), "apply": person_matte(photo)}
    pictures = {"preview": small, "apply": photo}
    runs = {"preview": 0, "apply": 0}
    errors: list[BaseException] = []
    wrong: list[str] = []
    stop = time.monotonic() + SECONDS

    def work(name: str) -> None:
        try:
            while time.monotonic() < stop or runs[name] < 3:
                matte = person_matte(pictures[name])
                if not np.allclose(matte, want[name], atol=1e-5):
                    wrong.append(name)
                runs[name] += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def release() -> None:
        while time.monotonic() < stop:
            release_idle_hosts()
            time.sleep(0.01)

    threads = [threading.Thread(target=work, args=(n,)) for n in runs]
    threads.append(threading.Thread(target=release))
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + 120)
    assert not errors, errors[0]
    assert not wrong, f"{len(wrong)} mattes differ from the picture's own ({set(wrong)})"
    assert min(runs.values()) >= 3
