import numpy as np

from studio.cli import main
from studio.image.io import Picture, load_picture, read_provenance, save_picture


def test_edit_chains_operations_and_records_them(tmp_path, photo, capsys):
    src = save_picture(Picture(photo), tmp_path / "in.png")
    hole = np.zeros((256, 256), np.uint8)
    hole[100:120, 50:200] = 255
    save_picture(Picture(np.dstack([hole] * 3)), tmp_path / "hole.png")
    out = tmp_path / "out.jpg"
    code = main(
        [
            "image",
            "edit",
            str(src),
            "-o",
            str(out),
            "resize=256x256",
            f"inpaint={tmp_path / 'hole.png'}",
            "sharpen",
            "brightness=5",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert load_picture(out).size == (256, 256)
    ops = read_provenance(out)["operations"]
    assert ops[0] == "resize width=256 height=256" and ops[-1] == "brightness amount=5"


def test_style_upscale_and_info(tmp_path, photo, capsys):
    src = save_picture(Picture(photo[:96, :96]), tmp_path / "small.png")
    assert main(["image", "style", str(src), "-o", str(tmp_path / "s.png"), "--style", "4"]) == 0
    assert (
        main(
            [
                "image",
                "upscale",
                str(tmp_path / "s.png"),
                "-o",
                str(tmp_path / "u.png"),
                "--model",
                "fast",
                "--scale",
                "2",
            ]
        )
        == 0
    )
    assert load_picture(tmp_path / "u.png").size == (192, 192)
    history = read_provenance(tmp_path / "u.png")
    assert history["engine"] == "studio/upscale"
    assert history["history"][-1]["engine"] == "studio/style"  # how the input was made
    capsys.readouterr()
    assert main(["image", "info", str(tmp_path / "u.png")]) == 0
    assert "192x192, 8-bit, RGB" in capsys.readouterr().out


def test_generate_then_reuse_its_parameters(tmp_path, tiny_model, capsys):
    first = tmp_path / "p.png"
    assert (
        main(
            [
                "image",
                "generate",
                "-o",
                str(first),
                "--size",
                "64x48",
                "--seed",
                "9",
                "-p",
                "style=waves",
            ]
        )
        == 0
    )
    again = tmp_path / "p2.png"
    assert main(["image", "generate", "--reuse", str(first), "-o", str(again)]) == 0
    assert np.array_equal(load_picture(first).pixels, load_picture(again).pixels)
    model = tmp_path / "m.png"
    assert (
        main(
            [
                "image",
                "generate",
                "--engine",
                str(tiny_model),
                "--prompt",
                "a tree",
                "--size",
                "64x64",
                "--steps",
                "2",
                "--seed",
                "1",
                "-o",
                str(model),
            ]
        )
        == 0
    )
    saved = read_provenance(model)
    assert saved["model"] == "tiny-sd" and saved["params"]["prompt"] == "a tree"
    inpainted = tmp_path / "i.png"
    mask = np.zeros((64, 64, 3), np.uint8)
    mask[20:40, 20:40] = 255
    save_picture(Picture(mask), tmp_path / "mask.png")
    assert (
        main(
            [
                "image",
                "generate",
                "--engine",
                str(tiny_model),
                "--prompt",
                "a tree",
                "--init",
                str(model),
                "--mask",
                str(tmp_path / "mask.png"),
                "--steps",
                "2",
                "-o",
                str(inpainted),
            ]
        )
        == 0
    )
    assert read_provenance(inpainted)["mode"] == "inpaint"


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["image", "edit", str(tmp_path / "none.png"), "-o", "x.png", "blur"]) == 1
    assert "no such picture" in capsys.readouterr().err
    (tmp_path / "p.png").write_bytes(b"junk")
    assert main(["image", "style", str(tmp_path / "p.png"), "-o", "x.png", "--style", "1"]) == 1
    assert "p.png" in capsys.readouterr().err
    assert (
        main(
            [
                "image",
                "generate",
                "-o",
                str(tmp_path / "x.png"),
                "--engine",
                str(tmp_path),
                "--prompt",
                "x",
            ]
        )
        == 1
    )
    assert "not a diffusers model folder" in capsys.readouterr().err
    assert main(["image", "generate", "--reuse", str(tmp_path / "p.png"), "-o", "y.png"]) == 1
    assert "no Studio generation parameters" in capsys.readouterr().err
