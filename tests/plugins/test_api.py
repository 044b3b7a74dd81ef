import pytest

from studio.music.scale_melody import ScaleMelodyGenerator
from studio.plugins.api import Generator, Param, api_compatible
from studio.testing import run_generator


def test_param_checks_types_and_ranges():
    bars = Param("bars", "int", 4, minimum=1, maximum=64)
    assert bars.check("8") == 8
    with pytest.raises(ValueError, match="above the maximum"):
        bars.check(65)
    with pytest.raises(ValueError, match="not a valid int"):
        bars.check(2.5)
    mode = Param("mode", "choice", "a", choices=("a", "b"))
    with pytest.raises(ValueError, match="not one of"):
        mode.check("c")
    assert Param("on", "bool", False).check("yes") is True


def test_param_spec_rejects_bad_declarations():
    with pytest.raises(ValueError):
        Param("x", "matrix", 0)
    with pytest.raises(ValueError):
        Param("x", "choice", "z", choices=("a",))
    with pytest.raises(ValueError):
        Param("x", "int", 100, maximum=10)


def test_resolve_fills_defaults_and_makes_random_seed_concrete():
    class G(Generator):
        params = (Param("n", "int", 3), Param("seed", "seed", -1))

    resolved = G().resolve({"text": "hello"})
    assert resolved["n"] == 3 and resolved["text"] == "hello"
    assert resolved["seed"] >= 0


def test_api_version_compatibility():
    assert api_compatible("1", "1.0")
    assert api_compatible("1.0", "1.2")
    assert not api_compatible("1.3", "1.2")
    assert not api_compatible("2.0", "1.9")
    assert not api_compatible("one", "1.0")


def test_builtin_scale_melody_is_reproducible_and_in_key():
    a, ctx = run_generator(
        ScaleMelodyGenerator, {"key": "D", "scale": "major", "bars": 4, "seed": 5}
    )
    b, _ = run_generator(ScaleMelodyGenerator, {"key": "D", "scale": "major", "bars": 4, "seed": 5})
    assert [(n.pitch, n.start) for n in a.notes] == [(n.pitch, n.start) for n in b.notes]
    d_major = {2, 4, 6, 7, 9, 11, 1}
    assert {n.pitch % 12 for n in a.notes} <= d_major
    assert a.notes[-1].pitch % 12 == 2  # the phrase ends on the tonic
    assert a.bars == 4
    assert ctx.fractions[-1] == 1.0
