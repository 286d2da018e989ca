"""The dataset subcommands: explain-dataset into Zarr, campaign status and report from the store."""
from __future__ import annotations

import numpy as np
from PIL import Image
from test_campaign import factory

import camwidget as cw
from camwidget.cli import main
from camwidget.datasets import open_results
from camwidget.datasets.campaign import Campaign


def test_explain_dataset_command(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    data = cw.samples.dataset("objects", n=2)
    for item in data:
        Image.fromarray(item.image).save(folder / f"{item.id}.png")
    (folder / "broken.jpg").write_bytes(b"nope")
    out = tmp_path / "maps.zarr"
    code = main(["explain-dataset", str(folder), "--methods", "gradcam,gradcam++", "--layers", "blocks.5",
                 "--out", str(out), "--on-error", "skip", "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "skipped broken.jpg" in captured.err and "broken.jpg" in captured.err
    results = open_results(out)
    assert results.layers == ["blocks.5"] and results.methods == ["gradcam", "gradcam++"]
    assert list(results.table.id) == ["broken.jpg", "cat-00000.png", "cup-00001.png"]
    assert np.isfinite(results.map("cat-00000.png", "gradcam", "blocks.5")).all()
    assert main(["explain-dataset", str(folder), "--methods", "nope", "--out", str(tmp_path / "x.zarr")]) == 2
    assert "method: 'nope' is unknown" in capsys.readouterr().err


def test_campaign_status_and_report_commands(tmp_path, capsys):
    store = tmp_path / "labels.sqlite"
    campaign = Campaign(store, factory, cw.samples.dataset("objects", n=2, seed=1), targets="top",
                        rounds_per_cluster=1, progress=False, name="cats")
    while (r := campaign.next_round("ana")) is not None:
        campaign.answer(r, guess=r.target_name, text="fur and stripes", reveal_step=1)
    assert main(["campaign", "status", "--store", str(store), "--name", "cats"]) == 0
    assert "Campaign('cats'" in capsys.readouterr().out
    assert main(["campaign", "report", "--store", str(store), "--name", "cats", "--plot", str(tmp_path / "r.png")]) == 0
    assert "global explanation" in capsys.readouterr().out and (tmp_path / "r.png").exists()
    assert main(["campaign", "status", "--store", str(store), "--name", "dogs"]) == 2
    assert "name: no campaign 'dogs'" in capsys.readouterr().err
