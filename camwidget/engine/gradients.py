"""Layer gradients of a session's cached forward: one layer first, the rest when there is time.

A session keeps one forward (activations of every selectable layer, and the autograd graph). The
gradient of a target's logit with respect to those activations is computed here, in two ways:

- ``layer_gradients(session, target, layer)`` — a **partial backward**: ``torch.autograd.grad``
  with respect to ``layer`` and every deeper layer that is not done yet. Autograd runs only the
  part of the graph between the logit and those tensors, so the first map of a deep layer costs
  about what a one-layer Grad-CAM costs (torchcam's, Captum's), not a backward through the whole
  network. Deeper layers come along at no extra backward cost (the pass runs through them anyway).
- ``complete(session, target)`` — the rest: one backward to every layer not done yet, in one pass.
  Each layer's gradient is stored the moment autograd has it (a tensor hook on the activation,
  removed when the pass ends), and ``progress.report(done, total)`` is called there, so a caller
  that passes ``cancelled=`` to ``progress.reporting`` stops the pass between two layers
  (``progress.Cancelled``); the layers finished by then stay stored, and a later call does only
  what is left. A request for a layer that is not done yet runs the partial backward above: it
  waits for that layer only.

Either way the stored values are exactly what one backward to every layer gives (autograd computes
each tensor's gradient from the same graph, in the same order): which path ran first never shows
in a map. The session keeps them per target (``Session._gradient_slot``, its most recent targets).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from . import guards, progress
from . import targets as targets_


@contextmanager
def grad_enabled() -> Iterator[None]:
    """Autograd on, even when the caller sits inside ``torch.no_grad()`` or ``inference_mode()``."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def _zeros(activation: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(activation[0]).detach()


def _missing(session, target: "int | targets_.Target", names: list[str]) -> list[str]:
    done = session._gradient_slot(target)
    return [n for n in names if n not in done]


def layer_gradients(session, target: "int | targets_.Target", layer: str) -> torch.Tensor:
    """∂ logit(target) / ∂ activations of ``layer`` (C × h × w); a partial backward if not done yet.

    The pass also stores every deeper layer that is not done (autograd runs through them anyway).
    """
    done = session._gradient_slot(target)
    if layer in done:
        check_pending(session, target, [layer])
        return done[layer]
    session._ensure_forward()
    depth = session.layer_info(layer).depth
    names = [i.name for i in session.layers if i.depth >= depth and i.name not in done]
    return _backward(session, target, names)[layer]


def all_gradients(session, target: "int | targets_.Target") -> dict[str, torch.Tensor]:
    """Every session layer's gradient for ``target`` (computes what is not done, in one pass)."""
    session._ensure_forward()
    done = session._gradient_slot(target)
    names = [i.name for i in session.layers if i.name not in done]
    if names:
        return _backward(session, target, names, report=True)
    check_pending(session, target, list(done))
    return done


def complete(session, target: "int | targets_.Target") -> int:
    """Finish every layer's gradient for ``target``; returns how many layers this call computed.

    Reports ``progress.report(done, total)`` after each layer (``total`` = the layers this call
    computes), so it is cancellable between layers; what was finished stays stored. The layers
    are checked (finite, not a constant score) when a map first uses them, not here: reading all
    67 of EfficientNet-Lite0's gradients once more would cost 2–3 % of the pass.
    """
    session._ensure_forward()
    names = _missing(session, target, [i.name for i in session.layers])
    if names:
        _backward(session, target, names, report=True, check=False)
    return len(names)


def check_pending(session, target: "int | targets_.Target", layers: list[str]) -> None:
    """Check the gradients of ``layers`` that ``complete`` stored unchecked: ValueError naming a
    non-finite layer, or the constant score when every layer's gradient is zero; they stay
    unchecked (and the same error comes again) until they pass."""
    pending = session._unchecked_gradients.get(target)
    todo = [name for name in layers if pending and name in pending]
    if not todo:
        return
    done = session._gradient_slot(target)
    sums = guards._sums([done[name] for name in todo])
    if not (bool(torch.isfinite(sums).all()) and bool(sums.any())):
        order = [i.name for i in session.layers if i.name in done]
        guards.check_gradients(done, [n for n in order if n in todo] + [n for n in order if n not in todo],
                               target, session.class_name(target))
    pending.difference_update(todo)


def pending(session, target: "int | targets_.Target") -> list[str]:
    """The session layers whose gradient for ``target`` is not computed yet, deepest first."""
    done = session._gradients.get(target, {})
    return [i.name for i in reversed(session.layers) if i.name not in done]


def _backward(session, target: "int | targets_.Target", names: list[str], report: bool = False,
              check: bool = True) -> dict[str, torch.Tensor]:
    """One ``autograd.grad`` of the target's logit w.r.t. ``names``' activations (graph retained);
    returns the target's gradients so far, kept in the session (checked: finite, not all zero;
    with ``check=False`` left for ``check_pending`` when a map uses them).

    With ``report``, when somebody watches (``progress.watched()``), a tensor hook on each
    activation stores its gradient as soon as autograd has it and reports progress there (which
    may raise ``progress.Cancelled`` and end the pass: the layers finished by then are kept).
    Nobody watching, the pass runs without hooks (67 Python calls fewer on EfficientNet-Lite0).
    """
    done = session._gradient_slot(target)
    activations = [session._activations[n] for n in names]
    handles = []
    if report and progress.watched():
        total = len(names)

        def make_hook(name: str):
            def hook(grad: torch.Tensor) -> None:
                done[name] = grad[0].detach()
                progress.report(sum(n in done for n in names), total)
            return hook

        for name, activation in zip(names, activations):
            if activation.requires_grad:
                handles.append(activation.register_hook(make_hook(name)))
    try:
        with grad_enabled():
            grads = torch.autograd.grad(
                targets_.scores(session._logits, target)[0], activations, retain_graph=True, allow_unused=True
            )
    except progress.Cancelled:
        session._keep_gradients(target, done, check=False)  # checked with the rest, later
        raise
    finally:
        for handle in handles:
            handle.remove()
    for name, g, activation in zip(names, grads, activations):
        done[name] = g[0].detach() if g is not None else _zeros(activation)
    if not check:
        session._keep_gradients(target, done, check=False)
        session._unchecked_gradients.setdefault(target, set()).update(names)
        return done
    rest = _missing(session, target, [i.name for i in session.layers])
    if rest and not any(bool(g.any()) for g in done.values()):
        # Zero at every layer so far: only the shallower layers can tell a score that does not
        # depend on the image (refused) from deep layers it does not reach (a ViT's last block).
        session._keep_gradients(target, done, check=False)
        try:
            return _backward(session, target, rest)
        except ValueError:
            for name in names:
                done.pop(name, None)
            raise
    try:
        session._keep_gradients(target, done)
    except ValueError:
        for name in names:  # not kept: asking again reports the same error
            done.pop(name, None)
        raise
    session._unchecked_gradients.pop(target, None)  # every layer in done was checked just now
    return done

def before(session, spec, params: dict) -> None:
    """What ``Session.explain`` runs before a method: its ``prepare`` step (work that can overlap
    the forward, e.g. superpixels), then, for a method that needs no gradient, a forward without
    autograd graph if the session has none yet (a later gradient request records the graph)."""
    if spec.prepare is not None:
        spec.prepare(session, params)
    if not spec.needs_graph and session._logits is None:
        names = [i.name for i in session.layers]
        logits, captured = session.forward_batch(session.input, names, from_input=None)
        guards.check_forward(session.model, logits if isinstance(logits, torch.Tensor) else torch.zeros(0), captured, names)
        if session.classes is not None and isinstance(logits, torch.Tensor) and logits.dim() > 1 \
                and len(session.classes) != logits.shape[1]:
            raise ValueError(f"classes: {len(session.classes)} names for a model with {logits.shape[1]} outputs")
        session._activations, session._logits, session._graph_ready = captured, logits, False
        session._unchecked = set(captured)
