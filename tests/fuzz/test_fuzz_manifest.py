"""Fuzzing plugin manifests: the example plugins' manifests mutated, generated tables with odd
values, deep nesting and long dotted keys, and random bytes. Each ends in a manifest or one
ManifestError in words (discovery then marks that plugin alone)."""

from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

import studio.plugins.manifest  # noqa: F401 - imported before the first timed case
from tests.fuzz import oracle, targets_data
from tests.fuzz.mutation import apply_edit, edits

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [p.read_bytes() for p in sorted(ROOT.glob("plugins/*/*/studio-plugin.toml"))] + [
    (ROOT / "studio" / "builtin" / "studio-plugin.toml").read_bytes()
]

_edit = edits("nest", 8192, 6)


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for kind, at, blob in draw(st.lists(_edit, max_size=5)):
        at %= max(1, len(data))
        if not apply_edit(data, kind, at, blob):  # a value nested deeply where a string was
            depth = draw(st.sampled_from([9, 100, 5000]))
            data[at:at] = b"x = " + b"[" * depth + b"]" * depth + b"\n"
    return bytes(data)


_VALUE = st.recursive(
    st.one_of(st.text(max_size=12), st.integers(-(2**63), 2**63 - 1), st.booleans(),
              st.floats(allow_nan=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=12,
)  # fmt: skip


@st.composite
def generated(draw) -> bytes:
    import tomli_w

    plugin = {"name": draw(st.sampled_from(["ok-plugin", "Bad Name", ""])), "version": "1",
              "api_version": draw(st.sampled_from(["1", "1.0", "x", "2"]))}  # fmt: skip
    for key in draw(st.lists(st.sampled_from(["timeout", "memory_mb", "cpu_seconds",
                                              "isolation", "extra"]), max_size=3)):  # fmt: skip
        plugin[key] = draw(_VALUE)
    contributions = [
        {"id": draw(st.sampled_from(["gen", "GEN", "a b"])),
         "kind": draw(st.sampled_from(["midi", "image", "nope"])), "title": "T",
         "entry": draw(st.sampled_from(["pkg.mod:Gen", "nope", ""]))}
        for _ in range(draw(st.integers(0, 3)))
    ]  # fmt: skip
    document = {"plugin": plugin, "contributions": contributions}
    if draw(st.booleans()):
        document["capabilities"] = {"device": draw(_VALUE), "network": draw(_VALUE)}
    try:
        return tomli_w.dumps(document).encode()
    except (TypeError, ValueError):
        return b"[plugin]\n"


@st.composite
def nested(draw) -> bytes:
    depth = draw(st.sampled_from([8, 9, 200, 5000, 100_000]))
    kind = draw(st.sampled_from(["array", "table", "dotted"]))
    text = {"array": "description = " + "[" * depth + "]" * depth,
            "table": "description = " + "{a = " * depth + "1" + "}" * depth,
            "dotted": "d" + ".e" * depth + " = 1"}[kind]  # fmt: skip
    return draw(st.sampled_from(SEEDS)).replace(b"[plugin]\n", b"[plugin]\n" + text.encode()
                                                + b"\n", 1)  # fmt: skip


MANIFESTS = st.one_of(mutated(), generated(), nested(), st.binary(max_size=300))


@given(MANIFESTS)
@example(b'[plugin]\nname = "deep"\ndescription = ' + b"[" * 5000 + b"]" * 5000 + b"\n")
def test_any_manifest_ends_in_a_manifest_or_a_message(data):
    oracle.check(
        "manifest", lambda: targets_data.manifest(data), data,
        seconds=targets_data.MANIFEST_SECONDS, mib=targets_data.MANIFEST_MIB,
    )  # fmt: skip
