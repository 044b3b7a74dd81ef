"""Every input that once failed a fuzz target, kept as a regression test: the files of
tests/fuzz/corpus/<target>/, each named by how it failed before the fix."""

from pathlib import Path

import pytest

from tests.fuzz import oracle, targets, targets_data

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p for p in CORPUS.glob("*/*") if p.is_file())


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.name}" for p in CASES])
def test_a_once_failing_input_now_ends_in_a_result_or_a_message(path):
    target = path.parent.name
    if target in targets_data.TARGETS:  # history, settings, manifest
        fn, seconds, mib = targets_data.corpus_case(target, path)
        data = path.read_bytes()
    elif target == "midi":
        data = path.read_bytes()
        fn, seconds, mib = (lambda: targets.midi(data)), targets.MIDI_SECONDS, targets.MIDI_MIB
    else:
        data = path.read_bytes().decode("utf-8", "surrogatepass")
        plain = False if target == "text" else None
        fn = lambda: targets.text(data, plain)  # noqa: E731
        seconds, mib = targets.TEXT_SECONDS, targets.TEXT_MIB
    oracle.check(f"corpus-{target}", fn, data, seconds=seconds, mib=mib)


def test_the_corpus_holds_cases_of_each_target():
    assert {p.parent.name for p in CASES} >= {"midi", "text", "ssml", *targets_data.TARGETS}
