"""Fuzzing history import: generated ListenBrainz exports, Last.fm and ratings CSVs with odd
values (inf, nan, 400-digit numbers, lists where text belongs), deep JSON, long files and
random bytes. Each ends in counts or one HistoryError in words, in linear time, and no
non-finite rating reaches the library."""

import json
import os

from hypothesis import example, given
from hypothesis import strategies as st

import studio.library.history  # noqa: F401 - imported before the first timed case
from tests.fuzz import oracle, targets_data

LONG = os.environ.get("STUDIO_FUZZ") == "fuzz"
MANY = 20_000 if LONG else 2_000

_ODD_NUMBERS = st.sampled_from(
    ["inf", "-inf", "nan", "NaN", "1e400", "-1e400", "9" * 400, "1e308", "-0", "0x10", "5",
     "4.5", "", " ", "1_000", "½", "٣", "²", "1700000000", "1e10", "-1"]
)  # fmt: skip
_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.just(10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), _ODD_NUMBERS,
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                         max_size=2),
)  # fmt: skip


@st.composite
def listenbrainz(draw) -> tuple[bytes, str]:
    listens = []
    for _ in range(draw(st.integers(0, 12))):
        meta = draw(st.one_of(
            st.fixed_dictionaries({"track_name": _VALUE}, optional={
                "artist_name": _VALUE, "release_name": _VALUE}),
            _VALUE,
        ))  # fmt: skip
        listen = draw(st.one_of(
            st.fixed_dictionaries({"track_metadata": st.just(meta)},
                                  optional={"listened_at": _VALUE}),
            _VALUE,
        ))  # fmt: skip
        listens.append(listen)
    repeat = draw(st.sampled_from([0] * 8 + [1, MANY]))
    if repeat:  # a long history of distinct tracks (a quadratic import shows here)
        listens += [
            {"listened_at": 1_600_000_000 + i,
             "track_metadata": {"track_name": f"T{i}", "artist_name": f"A{i % 101}"}}
            for i in range(repeat)
        ]  # fmt: skip
    shape = draw(st.sampled_from(["list", "payload", "listens", "lines", "deep"]))
    if shape == "list":
        text = json.dumps(listens)
    elif shape == "payload":
        text = json.dumps({"payload": draw(st.one_of(st.just({"listens": listens}), _VALUE))})
    elif shape == "listens":
        text = json.dumps({"listens": draw(st.one_of(st.just(listens), _VALUE))})
    elif shape == "lines":
        text = "\n".join(json.dumps(x) for x in listens)
    else:
        depth = draw(st.sampled_from([10, 999, 5000, 100_000]))
        text = "[" * depth + json.dumps(listens) + "]" * depth
    return text.encode(), draw(st.sampled_from([".json", ".jsonl"]))


def _cell(value) -> str:
    return str(value).replace("\n", " ")


@st.composite
def csv_file(draw) -> tuple[bytes, str]:
    kind = draw(st.sampled_from(["ratings", "lastfm", "lastfm-header"]))
    lines = {"ratings": ["user,item,rating,timestamp"], "lastfm": [],
             "lastfm-header": ["artist,album,track,date"]}[kind]  # fmt: skip
    for _ in range(draw(st.integers(0, 12))):
        cells = draw(st.lists(st.one_of(_VALUE, _ODD_NUMBERS), min_size=0, max_size=6))
        lines.append(",".join(_cell(c) for c in cells))
    repeat = draw(st.sampled_from([0] * 8 + [1, MANY]))
    for i in range(repeat):
        lines.append(f"u{i % 7},Item {i},{1 + i % 5},{1_600_000_000 + i}" if kind == "ratings"
                     else f"A{i % 101},R,T{i},{1_600_000_000 + i}")  # fmt: skip
    return "\n".join(lines).encode("utf-8", "surrogatepass"), ".csv"


# With `make fuzz`, 20,000 listens of distinct tracks every run: the old import scanned the
# items table for each (about 30 s); the suite leaves it out (its budget is wall time, and a
# loaded machine stretches it).
LONG_CLEAN = json.dumps(
    [{"listened_at": 1_600_000_000 + i, "track_metadata": {"track_name": f"T{i}"}}
     for i in range(20_000 if LONG else 0)]
).encode()  # fmt: skip


def _long(test):
    return example((LONG_CLEAN, ".json"))(test) if LONG else test


HISTORIES = st.one_of(
    listenbrainz(),
    csv_file(),
    st.tuples(st.binary(max_size=400), st.sampled_from([".json", ".csv", ".jsonl"])),
)


@given(HISTORIES)
@example((b"user,item,rating,timestamp\nann,Blue,inf,1700000000\n", ".csv"))  # the issue
@example((b'[["a list, not a listen"]]', ".json"))  # 'list' object has no attribute 'get'
@example((b'[{"listened_at": 1' + b"0" * 5000 + b', "track_metadata": {}}]', ".json"))
@example((b'[{"listened_at": 1' + b"0" * 400 + b', "track_metadata": {"track_name": "a"}}]',
          ".json"))  # fmt: skip
@_long
def test_any_history_ends_in_counts_or_a_message(case):
    data, suffix = case
    oracle.check(
        "history", lambda: targets_data.history(data, suffix), data,
        seconds=targets_data.HISTORY_SECONDS, mib=targets_data.HISTORY_MIB,
    )  # fmt: skip
