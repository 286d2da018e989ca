"""The command line explains to PNG / NPZ and reports bad input as a message, not a traceback."""
from __future__ import annotations

import numpy as np

from camwidget.cli import main


def test_explain_to_npz_and_png(tmp_path, capsys):
    assert main(["explain", "chelsea", "--method", "gradcam", "--out", str(tmp_path / "e.npz")]) == 0
    data = np.load(tmp_path / "e.npz")
    assert data["map"].shape == (7, 7) and data["upsampled"].shape == (300, 451)
    assert main(["explain", "chelsea", "--layer", "blocks.5", "--out", str(tmp_path / "e.png")]) == 0
    assert (tmp_path / "e.png").stat().st_size > 1000


def test_bad_layer_is_a_message(capsys):
    assert main(["explain", "chelsea", "--layer", "blocks.55"]) == 2
    assert "layer: 'blocks.55'" in capsys.readouterr().err


def test_help_describes_every_command_and_lists_the_methods(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    for command in ("explain", "layers", "top", "demo"):
        assert command in top
    assert "five most probable classes" in top and "selectable layers" in top
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    from camwidget.engine import methods

    for spec in methods.available():
        assert spec.name in text, spec.name
    with pytest.raises(SystemExit):
        main(["explain", "chelsea", "--method", "gradcamm"])
    assert "invalid choice: 'gradcamm'" in capsys.readouterr().err
