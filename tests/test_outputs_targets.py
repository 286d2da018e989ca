"""Any model output (output=) and targets beyond one class index; the refusals of what cannot work."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from nets import TinyCNN, tiny_preprocess
from torch import nn

import camwidget as cw
from camwidget.engine import hook_count
from camwidget.engine.targets import MultiLabelTarget, ScoreTarget, SegmentationTarget


@dataclass
class ModelOutput:  # Hugging Face style
    logits: torch.Tensor
    hidden_states: torch.Tensor | None = None


class Wrapped(nn.Module):
    """TinyCNN whose output is wrapped by ``wrap`` (dict, tuple, object, ...)."""

    def __init__(self, wrap) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = TinyCNN()
        self.wrap = wrap

    def forward(self, x):
        return self.wrap(self.net(x))


class TinySegmenter(nn.Module):
    """conv → conv → 3-class 1×1 conv, upsampled to the input: {"out": B × 3 × H × W}."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.classifier = nn.Conv2d(8, 3, 1)

    def forward(self, x):
        out = self.classifier(self.backbone(x))
        return {"out": nn.functional.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)}


class TinyDetector(nn.Module):
    """A backbone and a detection-style output: one dict of boxes, labels, scores per image."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.score = nn.Linear(4, 2)

    def forward(self, x):
        scores = self.score(self.backbone(x).mean(dim=(2, 3)))
        return [{"boxes": torch.zeros(2, 4), "labels": torch.tensor([1, 2]), "scores": s} for s in scores]


@pytest.fixture
def image(tiny_image):
    return tiny_image


def _session(model, image, **kwargs):
    return cw.Session(model, image, preprocess=tiny_preprocess, **kwargs)


@pytest.fixture
def plain(image):
    return _session(Wrapped(lambda t: t), image)


@pytest.mark.parametrize("wrap, output", [
    (lambda t: {"logits": t, "aux": t * 2}, None),
    (lambda t: {"out": t}, None),
    (lambda t: ModelOutput(t, t[:, :2]), None),
    (lambda t: (t,), None),
    (lambda t: (t * 3, t), 1),
    (lambda t: {"scores": t, "extra": t + 1}, "scores"),
    (lambda t: ModelOutput(t * 0, t), "hidden_states"),
    (lambda t: {"nested": {"x": t}}, lambda out: out["nested"]["x"]),
])
def test_the_class_scores_are_found_or_picked_with_output(image, plain, wrap, output):
    s = _session(Wrapped(wrap), image, output=output)
    assert s.top(2) == plain.top(2)
    np.testing.assert_allclose(s.explain("gradcam", target=1).map, plain.explain("gradcam", target=1).map, rtol=1e-6)
    np.testing.assert_allclose(s.predict(s.input).numpy(), plain.predict(plain.input).numpy(), rtol=1e-6)


@pytest.mark.parametrize("wrap, found, advice", [
    (lambda t: {"a": t, "b": t}, r"dict \{'a': Tensor 1×4, 'b': Tensor 1×4\}", "output='a'"),
    (lambda t: (t, t[:, :1]), r"tuple of 2 \[Tensor 1×4, Tensor 1×1\]", "output=0"),
])
def test_an_ambiguous_output_names_what_it_found_and_the_output_to_pass(image, wrap, found, advice):
    model = Wrapped(wrap)
    s = _session(model, image)
    for call in (lambda: s.top(), lambda: s.explain("gradcam"), lambda: s.explain("gradcam", target=1)):
        with pytest.raises(TypeError) as error:
            call()
        assert advice in str(error.value)
        assert __import__("re").search(found, str(error.value)), str(error.value)
    assert hook_count(model) == 0


def test_output_argument_errors(image):
    with pytest.raises(TypeError, match="output: expected a key"):
        _session(Wrapped(lambda t: t), image, output=2.5)
    s = _session(Wrapped(lambda t: {"logits": t}), image, output="scores")
    with pytest.raises(ValueError, match="output: the model's output has no key or attribute 'scores'.*'logits'"):
        s.top()
    s = _session(Wrapped(lambda t: (t,)), image, output=3)
    with pytest.raises(ValueError, match="output: index 3 is out of range"):
        s.top()


def test_a_callable_target_equals_the_class_index_and_names_itself(plain):
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    index = plain.explain("gradcam", target=2)

    def dog_score(output):
        return output[2]

    for target, name in ((dog_score, "dog_score"), (lambda o: o[2], "custom score"),
                         (ClassifierOutputTarget(2), "ClassifierOutputTarget(2)")):
        e = plain.explain("gradcam", target=target)
        np.testing.assert_allclose(e.map, index.map, rtol=1e-6)
        assert e.class_name == name
    assert plain.explain("gradcam", target=ScoreTarget(lambda o: o[1] - o[2], "1 minus 2")).target is None
    assert plain.explain("gradcam++", target=dog_score).map.shape == index.map.shape
    smooth = plain.explain("smooth-gradcam++", target=dog_score, n=2)
    np.testing.assert_allclose(smooth.map, plain.explain("smooth-gradcam++", target=2, n=2).map, rtol=1e-5)
    with pytest.raises(ValueError, match="target: CAM needs a class logit"):
        plain.explain("cam", target=dog_score)
    with pytest.raises(TypeError, match="target: the callable returned float"):
        plain.explain("gradcam", target=lambda o: 1.0)
    with pytest.raises(TypeError, match="one number per image"):
        plain.explain("gradcam", target=lambda o: o[:2])


def test_multilabel_shows_sigmoid_scores_and_explains_the_logit(image, plain):
    s = _session(Wrapped(lambda t: t), image, task="multilabel")
    logits = plain.logits
    top = s.top(4)
    expected = torch.sigmoid(logits).sort(descending=True)
    assert [i for i, _, _ in top] == expected.indices.tolist()
    np.testing.assert_allclose([p for _, _, p in top], expected.values.numpy(), rtol=1e-6)
    assert s.resolve_target(1) == MultiLabelTarget(1) and s.resolve_target(None) == MultiLabelTarget(top[0][0])
    e = s.explain("gradcam", target=1)
    assert e.target == 1
    np.testing.assert_allclose(e.map, plain.explain("gradcam", target=1).map, rtol=1e-6)
    np.testing.assert_allclose(s.explain("cam", target=1).map, plain.explain("cam", target=1).map, rtol=1e-6)
    probs = cw.engine.targets.probabilities(s.predict(s.input), s.resolve_target(1))
    np.testing.assert_allclose(probs.numpy(), torch.sigmoid(logits[1:2]).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="task: 'multi'"):
        _session(Wrapped(lambda t: t), image, task="multi")


@pytest.fixture
def segmenter(image):
    return _session(TinySegmenter(), image)


def _by_hand(session, layer, weights, category):
    """Grad-CAM of Σ weights · out[category] by plain autograd."""
    found = {}
    handle = session.model.get_submodule(layer).register_forward_hook(lambda m, i, o: found.setdefault("a", o))
    try:
        out = session.model(session.input.clone())["out"]
        (g,) = torch.autograd.grad((out[0, category] * weights).sum(), found["a"])
    finally:
        handle.remove()
    return torch.relu((g[0].mean(dim=(1, 2))[:, None, None] * found["a"][0]).sum(0)).detach().numpy()


def test_segmentation_top_is_the_classes_present_and_targets_a_region(segmenter):
    out = segmenter.predict(segmenter.input)
    predicted = out[0].argmax(0)
    top = segmenter.top(3)
    counts = torch.bincount(predicted.flatten(), minlength=3)
    assert [i for i, _, _ in top] == [int(c) for c in counts.argsort(descending=True) if counts[c] > 0]
    assert abs(sum(p for _, _, p in top) - 1) < 1e-6
    category = top[0][0]
    default = segmenter.resolve_target(None)
    assert default == SegmentationTarget(category, mask=predicted == category)
    layer = "backbone.3"
    e = segmenter.explain("gradcam", layer=layer)
    np.testing.assert_allclose(e.map, _by_hand(segmenter, layer, (predicted == category).float(), category), rtol=1e-4, atol=1e-6)
    assert e.target == category and "predicted pixels" in e.class_name
    box = SegmentationTarget(1, box=(2, 3, 10, 12))
    weights = torch.zeros(16, 16)
    weights[2:10, 3:12] = 1
    e = segmenter.explain("gradcam", layer=layer, target=box)
    np.testing.assert_allclose(e.map, _by_hand(segmenter, layer, weights, 1), rtol=1e-4, atol=1e-6)
    assert e.class_name == "class 1 in box (2, 3, 10, 12)"
    mask = np.zeros((16, 16), dtype=bool)
    mask[5:9, 5:9] = True
    e = segmenter.explain("gradcam", layer=layer, target=SegmentationTarget(2, mask=mask), region=(0, 0, 4, 4))
    assert e.map.shape == (8, 8)
    with pytest.raises(ValueError, match="box: .* outside"):
        segmenter.explain("gradcam", target=SegmentationTarget(1, box=(0, 0, 20, 5)))
    with pytest.raises(ValueError, match=r"mask: shape \(4, 4\) does not match the output map \(16, 16\)"):
        segmenter.explain("gradcam", target=SegmentationTarget(1, mask=np.ones((4, 4), bool)))
    with pytest.raises(ValueError, match="category: 7 is outside"):
        segmenter.explain("gradcam", target=SegmentationTarget(7))
    assert hook_count(segmenter.model) == 0


def test_a_detection_output_is_refused_without_a_target_callable_and_works_with_one(image):
    model = TinyDetector()
    s = _session(model, image)
    with pytest.raises(TypeError, match="detection output.*keys boxes, labels, scores.*target="):
        s.top()
    with pytest.raises(TypeError, match="target: there is no default target.*detection output"):
        s.explain("gradcam")
    with pytest.raises(TypeError, match="detection output"):
        s.explain("gradcam", target=0)
    assert hook_count(model) == 0
    e = s.explain("gradcam", target=lambda o: o["scores"][1])
    assert e.map.shape == (16, 16) and e.target is None
    assert hook_count(model) == 0


def test_a_one_dimensional_output_is_refused(image):
    model = Wrapped(lambda t: t[0])
    s = _session(model, image)
    with pytest.raises(TypeError, match=r"model: the output is 1-D \(shape \(4,\)\).*output=lambda out: out\[:, None\]"):
        s.top()
    with pytest.raises(TypeError, match="1-D"):
        s.explain("gradcam")
    assert hook_count(model) == 0


def test_target_type_errors(plain):
    with pytest.raises(TypeError, match="target: expected a class index"):
        plain.explain("gradcam", target=1.5)
    with pytest.raises(ValueError, match="target: 9 is outside the classes 0..3"):
        plain.explain("gradcam", target=9)
    with pytest.raises(TypeError, match="target: SegmentationTarget needs B×classes×H×W"):
        plain.explain("gradcam", target=SegmentationTarget(1))
