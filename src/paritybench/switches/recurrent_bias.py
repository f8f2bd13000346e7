"""The recurrent bias split of an LSTM: how the declared (Keras) LSTM's ONE bias reaches torch's TWO, ``bias_ih``
and ``bias_hh``, which torch adds in every gate (``torch/nn/modules/rnn.py``, the LSTM equations: ``b_i* +
b_h*``), switched to the other arm's. The layout rule (``adapters.layouts``, ``mapping._recurrent_rows``) maps
Keras's bias to ``bias_ih`` with ``bias_hh`` zero, so the effective bias ``bias_ih + bias_hh`` is Keras's; a port
that copies Keras's bias into both (examples/own_lstm's ``torch-literal``, ``overrides={"rnn.bias_hh_l0":
"rnn/bias"}``) counts it twice. Demonstrated by examples/own_lstm (no catalogue workload).

Read from the arm's weight map, not the declarations: for a torch arm an adapter built
(``adapters.arms.own_workload``'s ``TorchModel``, found by the arm's name in ``OwnWorkload.torch_models``), each
LSTM layer's ``bias_ih`` and ``bias_hh`` are computed by its map from a random declared bias ``r``, and the
effective bias ``bias_ih + bias_hh`` read as a multiple ``c * r`` of it (1 by the layout rule, 2 for the literal
port). The other arm's multiple is its own map's (an adapter's torch arm) or 1 (a JAX, f64 or Keras arm: the
declared weights are in Keras's layout, one bias counted once). The switched arm is a ``TorchModel`` like the
arm's, whose mapping takes the other arm's entries for those two biases (none: the layout rule), checked to give
the other's multiple.

A GRU is refused: with ``reset_after=True`` (the only Keras GRU torch can express) Keras keeps two bias rows that
map one to one onto ``bias_ih`` and ``bias_hh``, and the new gate's recurrent bias sits inside the reset gate's
product (``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, rnn.py): the two biases are not one sum to split."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from paritybench.adapters.arms import OwnWorkload, TorchModel
from paritybench.adapters.mapping import Row, WeightMap
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm

ROLES = ("bias", "recurrent_bias")  # torch's bias_ih, bias_hh (adapters.torch_params)
RTOL = 1e-6


def model_of(arm: Arm, t: Target) -> TorchModel:
    models = t.workload.torch_models if isinstance(t.workload, OwnWorkload) else {}
    if arm.name not in models:
        raise Refusal(
            f"{arm.name} is not a torch arm an adapter built from declared weights (own_workload's TorchModel): "
            "no weight map to read its recurrent biases from"
        )
    return models[arm.name]


def weight_map(model: TorchModel, t: Target) -> WeightMap:
    import torch  # late: a framework: loads after the numerics flags

    return model.weight_map(t.workload.model.params, example=torch.from_numpy(np.asarray(t.x[:1], np.float32)))


def recurrent_rows(m: WeightMap) -> dict[str, dict[str, Row]]:
    """Per recurrent layer of the map's torch side: its two bias rows by role (``bias``, ``recurrent_bias``)."""
    out: dict[str, dict[str, Row]] = {}
    for r in m.rows:
        if r.target.layer_type in ("lstm", "gru") and r.target.role in ROLES:
            out.setdefault(r.target.layer, {})[r.target.role] = r
    return out


def multiples(m: WeightMap, t: Target) -> dict[str, float]:
    """Per LSTM layer, ``c`` in ``bias_ih + bias_hh = c * (the declared bias)``; a ``Refusal`` for a GRU, a
    layer with one bias, or biases that are no multiple of one declared bias."""
    layers = recurrent_rows(m)
    if not layers:
        raise Refusal("the torch model has no LSTM or GRU biases in its weight map")
    rng = np.random.default_rng(0)
    probe = {k: rng.uniform(0.5, 1.5, s) for k, s in t.workload.model.params.items()}
    mapped = m.apply(probe)
    out = {}
    for layer, rows in layers.items():
        if any(r.target.layer_type == "gru" for r in rows.values()):
            raise Refusal(
                f"{layer} is a GRU: Keras's reset_after=True GRU keeps two bias rows that map one to one onto "
                "bias_ih and bias_hh, and b_hn sits inside the reset gate's product: no one sum to split"
            )
        if set(rows) != set(ROLES):
            raise Refusal(f"LSTM {layer} has not both bias_ih and bias_hh in its weight map")
        sources = {s.name for r in rows.values() for s in r.sources}
        if len(sources) != 1:
            raise Refusal(f"LSTM {layer}'s biases are mapped from {sorted(sources)}, not from one declared bias")
        src = probe[sources.pop()]
        total = sum(np.asarray(mapped[r.target.name], np.float64) for r in rows.values())
        if np.shape(total) != np.shape(src):
            raise Refusal(f"LSTM {layer}'s biases have another shape than the declared bias")
        c = float(np.median(total / src))
        if not np.allclose(total, c * src, rtol=RTOL * 10, atol=0):
            raise Refusal(f"LSTM {layer}'s bias_ih + bias_hh is no multiple of the declared bias")
        out[layer] = float(f"{c:.6g}")
    return out


def _theirs(t: Target, layers: list[str]) -> tuple[dict[str, float], TorchModel | None]:
    """The other arm's multiple per layer, and its model (an adapter's torch arm) or None (Keras's one bias)."""
    kind = t.other_kind()
    if kind == "torch":
        other = model_of(t.other, t)
        return multiples(weight_map(other, t), t), other
    if kind in ("jax", "f64", "keras"):
        return dict.fromkeys(layers, 1.0), None
    raise Refusal(f"{t.other.name} is a {kind} arm: its recurrent biases are not read")


def _entries(mapping: dict[str, Any], targets: set[str]) -> tuple[dict, dict]:
    """``mapping``'s overrides and transforms for ``targets`` only."""
    o = {k: v for k, v in dict(mapping.get("overrides") or {}).items() if k in targets}
    tr = {k: v for k, v in dict(mapping.get("transforms") or {}).items() if k in targets}
    return o, tr


def _torch(arm: Arm, t: Target) -> Arm:
    model = model_of(arm, t)
    mine_map = weight_map(model, t)
    mine = multiples(mine_map, t)
    theirs, other = _theirs(t, list(mine))
    differ = [layer for layer in mine if layer in theirs and not np.isclose(mine[layer], theirs[layer], rtol=1e-4)]
    if not differ:
        raise Refusal(f"nothing to change: {arm.name}'s effective LSTM biases are {t.other.name}'s ({mine})")
    rows = recurrent_rows(mine_map)
    targets = {r.target.name for layer in differ for r in rows[layer].values()}
    overrides = {k: v for k, v in dict(model.mapping.get("overrides") or {}).items() if k not in targets}
    transforms = {k: v for k, v in dict(model.mapping.get("transforms") or {}).items() if k not in targets}
    if other is not None:  # the other adapter's own entries for these biases (none: the layout rule)
        o, tr = _entries(other.mapping, targets)
        overrides.update(o)
        transforms.update(tr)
    mapping = {**model.mapping, "overrides": overrides, "transforms": transforms}
    switched = TorchModel(
        model.build_ref,
        model.optimizer_ref,
        model.loss_ref,
        hook=model.hook_ref,
        example_shape=model.example_shape,
        mapping=mapping,
    )
    got = multiples(weight_map(switched, t), t)
    if any(not np.isclose(got[layer], theirs[layer], rtol=1e-4) for layer in differ):
        raise Refusal(f"{arm.name} with {t.other.name}'s bias mapping still counts its biases {got}, not {theirs}")
    declared = t.workload.model.params
    return replace(arm, torch_apply=switched.torch_apply(declared), torch_layers=switched.torch_layers(declared))


def _kind_refusal(kind: str) -> str:
    return (
        f"a {kind} arm's LSTM has the declared (Keras) layout, one bias: no split to switch (the torch arm it is "
        "compared with is switched instead)"
    )


SWITCH = Switch(
    name="recurrent bias split",
    family="layer arithmetic",
    description="an LSTM's declared (Keras) bias mapped onto torch's bias_ih and bias_hh as the other arm maps it",
    rows=(),
    demonstrated_by="examples/own_lstm",
    appliers={"torch": _torch},
    refusals={k: _kind_refusal(k) for k in ("jax", "f64", "keras")},
)
