"""Issue 18's picture reproductions: huge headers, metadata bombs, unclosed XMP, the C libraries'
own lines on stderr, and the cut-out of a picture with no person in it."""

import json
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from studio.cli import main
from studio.core.chatter import captured_stderr
from studio.image.io import (
    MAX_METADATA_BYTES,
    ImageError,
    Picture,
    load_picture,
    read_metadata,
    read_provenance,
    save_picture,
)
from tests.image import bombs


def _peak_mib(fn):
    """Run ``fn`` and return (its result or exception, the peak MiB Python allocated)."""
    tracemalloc.start()
    try:
        try:
            outcome = fn()
        except Exception as exc:  # noqa: BLE001 - returned for the test to judge
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_a_249_megapixel_png_is_answered_from_its_header(tmp_path, capsys):
    huge = tmp_path / "huge.png"
    huge.write_bytes(bombs.huge_png())  # 1.5 MB: 15,780 x 15,780 at 16 bits (1.5 GB decoded)
    assert huge.stat().st_size < 2_000_000
    outcome, peak = _peak_mib(lambda: load_picture(huge))
    assert isinstance(outcome, ImageError) and "249 megapixels" in str(outcome)
    assert peak < 32  # refused before decoding (it took 4 GB)
    assert main(["image", "info", str(huge)]) == 0
    out, err = capsys.readouterr()
    assert "15780x15780, 16-bit, RGB" in out
    assert err.startswith("studio: warning: ") and "249 megapixels" in err


def test_metadata_that_inflates_to_a_gigabyte_is_skipped_with_a_message(tmp_path, capsys):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bombs.metadata_bomb())  # 1 MB that inflate to 1 GiB
    small = tmp_path / "small-bomb.png"
    small.write_bytes(bombs.metadata_bomb(64 << 20))  # 64 KB that inflate to 64 MiB
    for path in (bomb, small):
        outcome, peak = _peak_mib(lambda p=path: read_provenance(p, strict=True))
        assert isinstance(outcome, ImageError), outcome
        assert "MiB; not read" in str(outcome) and path.name in str(outcome)
        assert peak < 3 * MAX_METADATA_BYTES / 2**20 + 4  # it took 2.1 GB
        picture = load_picture(path)  # the pixels still open, with a warning
        assert picture.size == (4, 4) and picture.provenance == {}
        assert any("not read" in w for w in picture.warnings)
    code = main(["image", "generate", "-o", str(tmp_path / "g.png"), "--reuse", str(bomb)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "larger than 1 MiB; not read" in err
    assert main(["image", "info", str(small)]) == 0
    out, err = capsys.readouterr()
    assert "4x4, 8-bit" in out and "inflate to more than 1 MiB; not read" in err
    assert main(["image", "info", "--json", str(small)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["size"] == [4, 4] and "inflate to more than 1 MiB" in report["warnings"][0]


def test_an_unclosed_provenance_block_is_read_in_linear_time(tmp_path, photo):
    plain = save_picture(Picture(photo[:32, :32]), tmp_path / "plain.jpg", provenance=False)
    path = tmp_path / "unclosed.jpg"
    # 1 MB of opening tags: the old regex took minutes (7-11 s for 100 KB)
    path.write_bytes(bombs.jpeg_with_unclosed_xmp(plain.read_bytes(), 1 << 20))
    assert read_metadata(path) == (
        {},
        ["the Studio parameters in unclosed.jpg are cut off; not read"],
    )
    assert load_picture(path).size == (32, 32)


def test_deep_or_odd_provenance_is_refused_in_words(tmp_path):
    deep = tmp_path / "deep.png"
    deep.write_bytes(
        bombs.png(2, 2, chunks=bombs.chunk(b"tEXt", b"studio:provenance\x00" + b"[" * 100_000))
    )
    assert read_metadata(deep) == (
        {},
        ["the Studio parameters in deep.png are damaged (not JSON); not read"],
    )
    odd = tmp_path / "odd.png"
    odd.write_bytes(
        bombs.png(2, 2, chunks=bombs.chunk(b"tEXt", b'studio:provenance\x00{"params": [1]}'))
    )
    assert read_provenance(odd) == {"params": [1]}
    with pytest.raises(ValueError, match="damaged; not reused"):
        main(["--debug", "image", "generate", "-o", str(tmp_path / "g.png"), "--reuse", str(odd)])


def _studio(*args, cwd):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_damaged_files_print_only_studio_lines(tmp_path, photo):
    png = save_picture(Picture(photo), tmp_path / "good.png").read_bytes()
    jpeg = save_picture(Picture(photo), tmp_path / "good.jpg").read_bytes()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    # cut, then closed with an end marker: libjpeg fills the rest grey and says so
    (tmp_path / "dent.jpg").write_bytes(jpeg[: len(jpeg) // 2] + b"\xff\xd9")
    for name, refused in (("cut.png", True), ("cut.jpg", None), ("dent.jpg", False)):
        result = _studio("image", "info", name, cwd=tmp_path)
        lines = result.stderr.splitlines()
        # before: "libpng error: PNG input buffer is incomplete", "Corrupt JPEG data: ..."
        assert lines and all(line.startswith("studio: ") for line in lines), result.stderr
        if refused is not None:
            assert (result.returncode == 1) == refused, result.stderr
        if result.returncode:
            assert len(lines) == 1 and name in lines[0] and "damaged or truncated" in lines[0]
        else:
            assert "may be damaged" in result.stderr  # the library's words, as a warning


def test_the_chatter_of_c_code_is_caught_and_the_rest_passes_through(capfd):
    with captured_stderr() as chatter:
        os.write(2, b"libpng warning: iCCP: known incorrect sRGB profile\n")
        os.write(2, b"Corrupt JPEG data: premature end of data segment\n")
        os.write(2, b"[ WARN:0@0.1] global loadsave.cpp (1) imread_ can't open file\n")
        os.write(2, b"a line of Studio's own\n")
    assert len(chatter.lines) == 3
    assert chatter.warnings()[0] == "Corrupt JPEG data: premature end of data segment"
    assert chatter.summary() == "Corrupt JPEG data: premature end of data segment"
    assert capfd.readouterr().err == "a line of Studio's own\n"


def test_the_cut_out_of_a_picture_without_a_person_says_so(tmp_path, photo, capsys):
    height, width = 240, 320
    y, x = np.mgrid[0:height, 0:width]
    gradient = np.dstack([x * 255 // width, y * 255 // height, np.full_like(x, 128)])
    shapes = np.full((height, width, 3), 200, np.uint8)
    shapes[60:180, 40:140] = (200, 40, 40)
    shapes[30:210, 180:300] = (30, 90, 200)
    for name, pixels in (("gradient.png", gradient.astype(np.uint8)), ("shapes.png", shapes)):
        src = save_picture(Picture(pixels), tmp_path / name)
        out = tmp_path / f"cut-{name}"
        assert main(["image", "edit", str(src), "-o", str(out), "cutout"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("studio: ") and "no person found" in err and not out.exists()
    person = save_picture(Picture(photo[::2, ::2]), tmp_path / "person.png")
    assert main(["image", "edit", str(person), "-o", str(tmp_path / "p.png"), "cutout"]) == 0
    alpha = load_picture(tmp_path / "p.png").pixels[..., 3]
    assert 0.3 < (alpha > 127).mean() < 0.8  # the astronaut, cut out


def test_two_threads_redirecting_stderr_leave_it_where_it_was():
    import threading

    from studio.core.syslibs import quiet_stderr

    before = os.fstat(2).st_ino
    inside, go = threading.Event(), threading.Event()

    def quiet():
        inside.wait()
        with quiet_stderr():  # waits for the capture below to end, then has its own turn
            os.write(2, b"libpng warning: dropped\n")

    thread = threading.Thread(target=quiet)
    thread.start()
    with captured_stderr():
        inside.set()
        go.wait(0.2)  # the other thread now tries to redirect descriptor 2 as well
    thread.join()
    assert os.fstat(2).st_ino == before
