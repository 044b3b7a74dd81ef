"""``studio plugins new NAME --kind K``: a working plugin project to start from.

It writes a pyproject (hatchling, the ``studio.plugins`` entry point), the manifest, a generator of
the chosen kind that does something real and small, a test that uses ``studio.testing``, and a
README. The project installs with pip and passes its own test at once.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

__all__ = ["new_plugin", "ScaffoldError", "SCAFFOLD_KINDS"]

SCAFFOLD_KINDS = ("midi", "image", "voice", "video_mask", "recommender")


class ScaffoldError(ValueError):
    """A name or place Studio cannot make a plugin project with."""


_GENERATORS = {
    "midi": '''
        from studio.plugins.api import Generator, JobContext, MidiClip, Note, Param


        class {cls}(Generator):
            """An arpeggio up and down a chord: replace it with your own idea."""

            kind = "midi"
            title = "{title}"
            params = (
                Param("root", "int", 60, label="Root note", minimum=24, maximum=96),
                Param("bars", "int", 2, minimum=1, maximum=64),
                Param("chord", "choice", "major", choices=("major", "minor", "sus4")),
            )

            def run(self, request: dict, ctx: JobContext) -> MidiClip:
                steps = {{"major": (0, 4, 7, 12), "minor": (0, 3, 7, 12), "sus4": (0, 5, 7, 12)}}
                shape = steps[request["chord"]]
                pattern = list(shape) + list(reversed(shape[1:-1]))
                notes = []
                for i in range(request["bars"] * 8):
                    ctx.check_cancelled()
                    notes.append(Note(i * 0.5, request["root"] + pattern[i % len(pattern)], 0.45))
                    ctx.progress((i + 1) / (request["bars"] * 8))
                return MidiClip(notes, bpm=110)
    ''',
    "image": '''
        import numpy as np

        from studio.plugins.api import Generator, Image, JobContext, Param


        class {cls}(Generator):
            """Seeded soft stripes: replace it with your own picture maker."""

            kind = "image"
            title = "{title}"
            params = (
                Param("width", "int", 512, minimum=16, maximum=4096),
                Param("height", "int", 512, minimum=16, maximum=4096),
                Param("stripes", "int", 8, minimum=1, maximum=200),
                Param("seed", "seed", -1),
            )

            def run(self, request: dict, ctx: JobContext) -> Image:
                rng = np.random.default_rng(request["seed"])
                colours = rng.integers(0, 256, (2, 3)).astype(np.float32)
                x = np.linspace(0, 1, request["width"], dtype=np.float32)
                wave = 0.5 + 0.5 * np.sin(2 * np.pi * request["stripes"] * x)
                row = colours[0] * (1 - wave[:, None]) + colours[1] * wave[:, None]
                ctx.progress(1.0)
                pixels = np.repeat(row[None], request["height"], axis=0).astype(np.uint8)
                return Image(pixels)
    ''',
    "voice": '''
        import numpy as np

        from studio.plugins.api import AudioClip, Generator, JobContext, Param


        class {cls}(Generator):
            """One tone per word (longer words ring longer): replace it with your own voice."""

            kind = "voice"
            title = "{title}"
            params = (
                Param("pitch", "float", 220.0, label="Pitch (Hz)", minimum=50.0, maximum=2000.0),
            )

            def run(self, request: dict, ctx: JobContext) -> AudioClip:
                rate = 22050
                words = str(request.get("text", "")).split()
                if not words:
                    raise ValueError("there is no text to say")
                pieces = []
                for i, word in enumerate(words):
                    ctx.check_cancelled()
                    t = np.arange(int(rate * (0.08 + 0.04 * len(word)))) / rate
                    tone = 0.3 * np.sin(2 * np.pi * request["pitch"] * (1 + 0.1 * (i % 3)) * t)
                    pieces += [tone * np.hanning(len(t)), np.zeros(rate // 20)]
                    ctx.progress((i + 1) / len(words))
                return AudioClip(np.concatenate(pieces).astype(np.float32), rate)
    ''',
    "video_mask": '''
        import numpy as np

        from studio.plugins.api import Generator, JobContext, Mask, Param


        class {cls}(Generator):
            """Whatever is brighter than a threshold is the subject: replace it with your model."""

            kind = "video_mask"
            title = "{title}"
            params = (Param("threshold", "float", 0.5, minimum=0.0, maximum=1.0, step=0.05),)

            def run(self, request: dict, ctx: JobContext) -> Mask:
                frame = request["frame"].pixels[..., :3].astype(np.float32) / 255.0
                luma = frame @ np.array([0.299, 0.587, 0.114], np.float32)
                return Mask((luma > request["threshold"]).astype(np.float32))
    ''',
    "recommender": '''
        from studio.plugins.api import Generator, JobContext, Param, Scores


        class {cls}(Generator):
            """Ranks the given items by how many letters their names share with what you liked:
            replace it with your own idea of taste."""

            kind = "recommender"
            title = "{title}"
            params = (Param("n", "int", 10, minimum=1, maximum=500),)

            def run(self, request: dict, ctx: JobContext) -> Scores:
                items = list(request.get("items", []))
                liked = list(request.get("liked", []))
                taste = set("".join(liked).lower())
                scores = {{}}
                for item in items:
                    if item not in liked:
                        scores[item] = len(taste & set(item.lower())) / (len(set(item)) or 1)
                best = dict(sorted(scores.items(), key=lambda kv: -kv[1])[: request["n"]])
                return Scores(best, provenance={{"reasons": {{k: "shares letters with what you "
                                                             "liked" for k in best}}}})
    ''',
}

_TESTS = {
    "midi": """
        result, _ctx = run_generator({cls}, {{"bars": 1}})
        assert len(result.notes) == 8
        assert result.notes[0].pitch == 60
    """,
    "image": """
        result, _ctx = run_generator({cls}, {{"width": 64, "height": 32, "seed": 1}})
        assert result.pixels.shape == (32, 64, 3)
        assert result.pixels.std() > 0
    """,
    "voice": """
        result, _ctx = run_generator({cls}, {{"text": "hello there studio"}})
        assert result.sample_rate == 22050 and result.duration > 0.5
    """,
    "video_mask": """
        import numpy as np

        from studio.plugins.api import Image

        frame = np.zeros((16, 16, 3), np.uint8)
        frame[:, 8:] = 255
        result, _ctx = run_generator({cls}, {{"frame": Image(frame)}})
        assert result.alpha[:, 8:].min() == 1.0 and result.alpha[:, :8].max() == 0.0
    """,
    "recommender": """
        result, _ctx = run_generator({cls}, {{"items": ["abc", "xyz", "abd"], "liked": ["abc"]}})
        assert result.top(1)[0][0] == "abd"
    """,
}


def _python_name(name: str) -> str:
    return "studio_" + re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def new_plugin(name: str, kind: str, parent: str | Path = ".") -> Path:
    """Write the project ``<parent>/<name>/`` and return it. Raises :class:`ScaffoldError`."""
    name = name.strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9._-]*", name):
        raise ScaffoldError(
            f"{name!r}: a plugin name is lower-case letters, digits, '.', '_' or '-', starting "
            "with a letter"
        )
    if kind not in SCAFFOLD_KINDS:
        raise ScaffoldError(f"kind {kind!r}: choose one of {', '.join(SCAFFOLD_KINDS)}")
    root = Path(parent).expanduser() / name
    if root.exists() and any(root.iterdir()):
        raise ScaffoldError(f"{root} already exists and is not empty")
    package = _python_name(name)
    cls = "".join(part.capitalize() for part in re.split(r"[^a-z0-9]+", name)) + "Generator"
    title = name.replace("-", " ").replace("_", " ").capitalize()
    pkg = root / package
    (root / "tests").mkdir(parents=True)
    pkg.mkdir()
    (pkg / "__init__.py").write_text(f'"""{title}: a Studio plugin."""\n')
    (pkg / "generator.py").write_text(
        f'"""{title}: a {kind} generator for Studio."""\n\n'
        + textwrap.dedent(_GENERATORS[kind]).format(cls=cls, title=title).lstrip()
    )
    (pkg / "studio-plugin.toml").write_text(
        textwrap.dedent(f'''\
        [plugin]
        name = "{name}"
        version = "0.1.0"
        api_version = "1.0"
        description = "{title}"
        licence = "GPL-3.0-or-later"
        # A third-party plugin runs in a worker process of its own (a crash, a hang or a runaway
        # allocation stays contained) unless the user trusts it; "process" keeps it there always.
        # isolation = "process"
        # memory_mb = 4096  # its worker's address space
        # cpu_seconds = 600  # CPU time one run may use

        [capabilities]
        device = ["cpu"]
        network = false
        file_access = false

        [[contributions]]
        id = "{name.replace(".", "-").replace("_", "-")}"
        kind = "{kind}"
        title = "{title}"
        entry = "{package}.generator:{cls}"
        ''')
    )
    (root / "pyproject.toml").write_text(
        textwrap.dedent(f'''\
        [build-system]
        requires = ["hatchling>=1.25"]
        build-backend = "hatchling.build"

        [project]
        name = "{name}"
        version = "0.1.0"
        description = "{title}: a Studio plugin"
        requires-python = ">=3.11"
        license = "GPL-3.0-or-later"
        # Studio provides studio.plugins.api at run time; it is not a dependency, so installing
        # the plugin never pulls another copy of Studio.
        dependencies = []

        [project.entry-points."studio.plugins"]
        {name} = "{package}:studio-plugin.toml"

        [tool.hatch.build.targets.wheel]
        packages = ["{package}"]

        [tool.pytest.ini_options]
        addopts = "-p studio.testing.pytest_plugin"
        ''')
    )
    (root / "tests" / "test_generator.py").write_text(
        f'"""{title}: runs like Studio runs it, offline and without Qt."""\n\n'
        f"from studio.testing import run_generator\n\nfrom {package}.generator import {cls}\n\n\n"
        f"def test_it_makes_something():\n"
        + textwrap.indent(textwrap.dedent(_TESTS[kind]).format(cls=cls).strip(), "    ")
        + "\n"
    )
    (root / "README.md").write_text(
        textwrap.dedent(f"""\
        # {title}

        A Studio plugin ({kind}). Made with `studio plugins new {name} --kind {kind}`.

        ```sh
        pip install -e .            # into the same Python as Studio
        studio plugins validate .   # checks the manifest and the imports, runs nothing
        pytest                      # its own test
        studio plugins list         # Studio finds it
        ```

        Only `studio.plugins.api` (and `studio.testing` in tests) may be imported from Studio.
        See Studio's `docs/plugin-guide.md`.
        """)
    )
    return root
