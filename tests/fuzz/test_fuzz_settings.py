"""Fuzzing settings.toml: generated files with valid and invalid values side by side, mutated
text, deep nesting, long dotted keys and random bytes. Loading never raises, never rewrites
the file unasked, and keeps each value that is valid when another is not."""

from hypothesis import example, given
from hypothesis import strategies as st

import studio.core.settings  # noqa: F401 - imported before the first timed case
from tests.fuzz import oracle, targets_data

_GOOD = {
    "device": st.sampled_from(["auto", "cpu", "cuda", "mps"]),
    "torch_threads": st.integers(0, 512),
    "user_model_dir": st.text(max_size=20),
    "library_folders": st.lists(st.text(max_size=10), max_size=3),
    "theme": st.sampled_from(["light", "dark"]),
    "disabled_plugins": st.lists(st.text(max_size=10), max_size=3),
    "trusted_plugins": st.lists(st.text(max_size=10), max_size=3),
    "soundfont": st.text(max_size=20),
}
_BAD = st.one_of(
    st.sampled_from(["purple", "tpu", "", "LIGHT"]),
    st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2), st.text(max_size=20),
)  # fmt: skip


def _toml_value(value) -> str:
    """``value`` as an inline TOML value (DEL and some controls make a string invalid TOML:
    such cases test the message for a file that is not TOML)."""
    import json
    import math

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


@st.composite
def generated(draw) -> bytes:
    lines = []
    version = draw(st.sampled_from([2, 2, 2, 1, 3, 0, -1, "2"]))
    lines.append(f"schema_version = {_toml_value(version)}")
    for name, good in _GOOD.items():
        choice = draw(st.sampled_from(["good", "good", "bad", "none"]))
        if choice != "none":
            value = draw(good if choice == "good" else _BAD)
            lines.append(f"{name} = {_toml_value(value)}")
    if draw(st.booleans()):
        lines.append(f"unknown_{draw(st.integers(0, 9))} = {_toml_value(draw(_BAD))}")
    return "\n".join(lines).encode()


@st.composite
def nested(draw) -> bytes:
    depth = draw(st.sampled_from([3, 33, 999, 5000, 100_000]))
    kind = draw(st.sampled_from(["array", "table", "dotted", "header"]))
    if kind == "array":
        text = "theme = " + "[" * depth + "]" * depth
    elif kind == "table":
        text = "theme = " + "{a = " * depth + "1" + "}" * depth
    elif kind == "dotted":
        text = "a" + ".b" * depth + " = 1"
    else:
        text = "[" + ".".join(["t"] * depth) + "]\nx = 1"
    return ('schema_version = 2\ndevice = "cpu"\n' + text + "\n").encode()


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(generated()))
    for at, blob in draw(st.lists(st.tuples(st.integers(0, 400), st.binary(min_size=1,
                                                                          max_size=4)),
                                  max_size=4)):  # fmt: skip
        at %= max(1, len(data))
        data[at:at] = blob
    return bytes(data)


SETTINGS = st.one_of(generated(), nested(), mutated(), st.binary(max_size=300))


@given(SETTINGS)
@example(b'schema_version = 2\ntheme = "purple"\ndevice = "cpu"\n')  # the issue
@example(b"theme = " + b"[" * 5000 + b"]" * 5000 + b"\n")  # RecursionError in doctor
def test_any_settings_file_ends_in_settings(data):
    oracle.check(
        "settings", lambda: targets_data.settings(data), data,
        seconds=targets_data.SETTINGS_SECONDS, mib=targets_data.SETTINGS_MIB,
    )  # fmt: skip
