"""What the switch tests share (``test_switches_catalogue``, ``test_switches_narrow``): a constructed workload's
localize context on MNIST rows, one pair's explanation, and the assertion that the hidden cause is named first,
closes, and no other narrow switch closes."""

from __future__ import annotations


def setting(w, n: int, steps: int, holdout: bool = False):
    """``w``'s ``localize.Context`` over the first ``n`` normalised MNIST rows (one-hot labels) from its initial
    weights at seed 0, with the next ``n`` rows as the held-out window where ``holdout``; and its conventions rows."""
    from paritybench.experiment import data
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.experiment.weights import copy_weights
    from paritybench.pipeline import conventions, localize

    ds = data.load_mnist()
    x, y = data.window(ds, 0, n, True, labels="onehot10")
    held = dict(zip(("xh", "yh"), data.window(ds, n, n, True, labels="onehot10"), strict=True)) if holdout else {}
    weights = copy_weights({k: v for k, v in w.model.init(0).items() if k in w.model.params}, w.model.params)
    ctx = localize.Context(w, w.training.lr, steps, x, y, weights, NumericsOptions(), n=n, **held)
    return ctx, conventions.collect(w, w.arms, w.training.lr, NumericsOptions())


def explain(w, a: str, b: str, n: int, steps: int, holdout: bool = False) -> dict:
    """``explain.explain_pair`` on arms ``a`` and ``b`` of ``w``, as its record's dictionary."""
    from paritybench.pipeline import explain as pipeline_explain

    ctx, rows = setting(w, n, steps, holdout)
    return pipeline_explain.explain_pair(ctx, w.arm(a), w.arm(b), rows, {}).to_dict()


def assert_named(p: dict, switch: str) -> None:
    """The pair parted (above the factor) and ``switch`` ranks first and closes it; no other applied narrow switch
    closes it."""
    assert p["parted"] is not None, p
    top = p["switches"][0]
    assert top["name"] == switch and top["closes"], p["switches"]
    assert top["ratio_after"] < 100 and (p["parted"]["ratio"] is None or p["parted"]["ratio"] > 100)
    others = [s for s in p["switches"][1:] if s["refused"] is None and s["name"] != "forward pass"]
    assert all(not s["closes"] for s in others), p["switches"]
