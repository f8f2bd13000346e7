"""Weight mapping between adapters (paritybench.adapters): the pure table rules (fast), and for each layout rule the
same small model built in Keras and torch, mapped, and run forward (slow: Keras and torch imported in-process).

Each framework test also ports the weights literally (the rule left out, through the user's own override) and
asserts that the outputs then part: the rule is what makes them agree, not an accident of the test's numbers."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from paritybench.adapters import layouts
from paritybench.adapters.jax_params import assign_pytree, pytree_arrays, read_pytree
from paritybench.adapters.mapping import Param, WeightMap, plan
from paritybench.errors import ParityError
from tests.conftest import need_torch

# Two float32 forward passes of the same arithmetic summed in another order agree to a few ulps of the output's
# size: 8 ulps (8 * 2**-23 relative) of max|y| (the largest measured was 3 ulps: 5.7e-6 at max|y| 23.9).
ULPS = 8 * float(np.finfo(np.float32).eps)
# a literal port is off by far more than rounding: its outputs differ at the scale of the weights (~0.1-1).
PART = 1e-2


def P(fw, layer, ltype, role, name, shape, dtype="float32", ff=None):
    return Param(fw, layer, ltype, role, name, tuple(shape), dtype, ff)


def keras_dense(layer, n_in, n_out, ff=None):
    return [
        P("keras", layer, "dense", "kernel", f"{layer}/kernel", (n_in, n_out), ff=ff),
        P("keras", layer, "dense", "bias", f"{layer}/bias", (n_out,)),
    ]


def torch_linear(layer, n_in, n_out, ff=None):
    return [
        P("torch", layer, "dense", "kernel", f"{layer}.weight", (n_out, n_in), ff=ff),
        P("torch", layer, "dense", "bias", f"{layer}.bias", (n_out,)),
    ]


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("weight mapping: ")
    return msg


# ------------------------------------------------------------------------------------------------ pure tables


def test_dense_kernels_transpose_both_ways_and_biases_copy():
    m = plan(keras_dense("d1", 5, 4) + keras_dense("d2", 4, 3), torch_linear("fc1", 5, 4) + torch_linear("fc2", 4, 3))
    assert [(r.target.name, r.sources[0].name, r.transform) for r in m.rows] == [
        ("fc1.weight", "d1/kernel", "transpose"),
        ("fc1.bias", "d1/bias", "identity"),
        ("fc2.weight", "d2/kernel", "transpose"),
        ("fc2.bias", "d2/bias", "identity"),
    ]
    k = np.arange(20, dtype=np.float32).reshape(5, 4)
    out = m.apply({"d1/kernel": k, "d1/bias": np.ones(4), "d2/kernel": np.zeros((4, 3)), "d2/bias": np.ones(3)})
    np.testing.assert_array_equal(out["fc1.weight"], k.T)
    assert out["fc1.bias"].dtype == np.float32
    back = plan(torch_linear("fc1", 5, 4), keras_dense("d1", 5, 4))
    assert [r.transform for r in back.rows] == ["transpose", "identity"]


def test_flatten_permutation_matches_a_channels_first_forward():
    """Pure NumPy: a (H, W, C) feature map flattened channels-last times the Keras kernel equals the same map
    laid out (C, H, W), flattened, times the mapped torch weight; the plain transpose does not."""
    h, w, c, out = 3, 4, 2, 5
    rng = np.random.default_rng(0)
    fmap = rng.normal(size=(h, w, c))
    kernel = rng.normal(size=(h * w * c, out))
    m = plan(keras_dense("d", h * w * c, out, ff=(h, w, c)), torch_linear("fc", h * w * c, out))
    assert m.rows[0].transform == "flatten_to_channels_first(3,4,2)"
    weight = m.apply({"d/kernel": kernel, "d/bias": np.zeros(out)})["fc.weight"]
    keras_y = fmap.reshape(-1) @ kernel
    torch_y = weight @ fmap.transpose(2, 0, 1).reshape(-1)
    np.testing.assert_allclose(torch_y, keras_y.astype(np.float32), rtol=1e-5)
    assert np.max(np.abs(kernel.T @ fmap.transpose(2, 0, 1).reshape(-1) - keras_y)) > PART
    # torch -> Keras, the Flatten known on the torch side only (C, H, W): the inverse permutation
    back = plan(torch_linear("fc", h * w * c, out, ff=(c, h, w)), keras_dense("d", h * w * c, out))
    assert back.rows[0].transform == "flatten_from_channels_first(2,3,4)"
    np.testing.assert_allclose(
        back.apply({"fc.weight": weight, "fc.bias": np.zeros(out)})["d/kernel"], kernel, rtol=1e-6
    )


def test_lstm_biases_and_gru_gates_between_one_and_two_biases():
    u, n_in = 2, 3
    keras_lstm = [
        P("keras", "lstm", "lstm", "kernel", "lstm/lstm_cell/kernel", (n_in, 4 * u)),
        P("keras", "lstm", "lstm", "recurrent_kernel", "lstm/lstm_cell/recurrent_kernel", (u, 4 * u)),
        P("keras", "lstm", "lstm", "bias", "lstm/lstm_cell/bias", (4 * u,)),
    ]
    torch_lstm = [
        P("torch", "rnn", "lstm", "kernel", "rnn.weight_ih_l0", (4 * u, n_in)),
        P("torch", "rnn", "lstm", "recurrent_kernel", "rnn.weight_hh_l0", (4 * u, u)),
        P("torch", "rnn", "lstm", "bias", "rnn.bias_ih_l0", (4 * u,)),
        P("torch", "rnn", "lstm", "recurrent_bias", "rnn.bias_hh_l0", (4 * u,)),
    ]
    m = plan(keras_lstm, torch_lstm)
    assert [r.transform for r in m.rows] == ["transpose", "transpose", "identity", "zeros"]
    b = np.arange(4 * u, dtype=np.float32)
    arrays = {"lstm/lstm_cell/kernel": np.zeros((n_in, 4 * u)), "lstm/lstm_cell/recurrent_kernel": np.zeros((u, 4 * u))}
    out = m.apply({**arrays, "lstm/lstm_cell/bias": b})
    np.testing.assert_array_equal(out["rnn.bias_ih_l0"] + out["rnn.bias_hh_l0"], b)
    back = plan(torch_lstm, keras_lstm)
    assert back.rows[2].transform == "sum" and [s.name for s in back.rows[2].sources] == [
        "rnn.bias_ih_l0",
        "rnn.bias_hh_l0",
    ]
    # GRU: gates z, r, h (Keras) against r, z, n (torch); the bias rows split into b_ih and b_hh
    zrh = np.array([[1, 1, 2, 2, 3, 3], [4, 4, 5, 5, 6, 6]], dtype=np.float32)  # u = 2: z=1|4, r=2|5, h=3|6
    kg = [P("keras", "gru", "gru", "bias", "gru/gru_cell/bias", (2, 6))]
    tg = [
        P("torch", "g", "gru", "bias", "g.bias_ih_l0", (6,)),
        P("torch", "g", "gru", "recurrent_bias", "g.bias_hh_l0", (6,)),
    ]
    out = plan(kg, tg).apply({"gru/gru_cell/bias": zrh})
    np.testing.assert_array_equal(out["g.bias_ih_l0"], [2, 2, 1, 1, 3, 3])
    np.testing.assert_array_equal(out["g.bias_hh_l0"], [5, 5, 4, 4, 6, 6])
    np.testing.assert_array_equal(plan(tg, kg).apply(out)["gru/gru_cell/bias"], zrh)


def test_batchnorm_moving_statistics_map_and_num_batches_tracked_has_no_keras_twin():
    roles = ("gamma", "beta", "moving_mean", "moving_variance")
    keras_bn = [P("keras", "bn", "batchnorm", r, f"bn/{r}", (4,)) for r in roles]
    torch_names = ("weight", "bias", "running_mean", "running_var")
    torch_bn = [P("torch", "bn", "batchnorm", r, f"bn.{n}", (4,)) for r, n in zip(roles, torch_names, strict=True)]
    counter = P("torch", "bn", "batchnorm", "num_batches_tracked", "bn.num_batches_tracked", (), "int64")
    m = plan(keras_bn, [*torch_bn, counter])
    assert [(r.target.name, r.transform) for r in m.rows][-2:] == [
        ("bn.running_var", "identity"),
        ("bn.num_batches_tracked", "keep"),
    ]
    assert m.rows[2].sources[0].name == "bn/moving_mean"
    out = m.apply({f"bn/{r}": np.full(4, i, np.float32) for i, r in enumerate(roles)})
    assert "bn.num_batches_tracked" not in out and float(out["bn.running_var"][0]) == 3.0
    back = plan([*torch_bn, counter], keras_bn)
    assert [p.name for p in back.unused] == ["bn.num_batches_tracked"]


def test_conv_kernels_move_their_axes():
    k = np.random.default_rng(1).normal(size=(3, 2, 4, 5))  # H, W, I, O
    m = plan(
        [P("keras", "c", "conv2d", "kernel", "c/kernel", k.shape)],
        [P("torch", "c", "conv2d", "kernel", "c.weight", (5, 4, 3, 2))],
    )
    w = m.apply({"c/kernel": k})["c.weight"]
    assert m.rows[0].transform == "hwio_to_oihw" and w[4, 3, 2, 1] == np.float32(k[2, 1, 3, 4])
    k1 = np.zeros((3, 4, 5))  # W, I, O -> O, I, W
    m1 = plan(
        [P("keras", "c", "conv1d", "kernel", "c/kernel", k1.shape)],
        [P("torch", "c", "conv1d", "kernel", "c.weight", (5, 4, 3))],
    )
    assert m1.apply({"c/kernel": k1})["c.weight"].shape == (5, 4, 3)


def test_the_table_prints_and_round_trips_through_json():
    m = plan(keras_dense("d1", 5, 4), torch_linear("fc1", 5, 4), transforms={"fc1.bias": "identity"})
    text = m.text()
    assert "d1/kernel" in text and "fc1.weight" in text and "(4, 5)" in text and "transpose" in text
    assert text.splitlines()[0].split() == ["source", "shape", "target", "shape", "transform"]
    assert "(override)" in text
    again = WeightMap.from_json(json.loads(json.dumps(m.to_json())))
    assert again == m
    assert m.rich_table().row_count == 2


def test_a_shape_that_does_not_fit_is_one_line_naming_both_sides_and_the_override():
    with pytest.raises(ParityError) as e:
        plan(keras_dense("d1", 5, 4), torch_linear("fc1", 5, 3))
    msg = one_line(e)
    assert "'d1/kernel' (5, 4)" in msg and "'fc1.weight' (3, 5)" in msg and "overrides={'fc1.weight'" in msg


def test_an_ambiguous_layer_is_one_line_and_an_override_settles_it():
    src = [P("keras", "mix", "mix", "a", "mix/a", (3, 3)), P("keras", "mix", "mix", "b", "mix/b", (3, 3))]
    tgt = [P("torch", "mix", "mix", "x", "mix.x", (3, 3)), P("torch", "mix", "mix", "y", "mix.y", (3, 3))]
    with pytest.raises(ParityError) as e:
        plan(src, tgt)
    msg = one_line(e)
    assert "ambiguous" in msg and "keras layer 'mix'" in msg and "torch layer 'mix'" in msg and "overrides=" in msg
    m = plan(src, tgt, overrides={"mix.x": "mix/b", "mix.y": "mix/a"})
    assert [(r.target.name, r.sources[0].name, r.by) for r in m.rows] == [
        ("mix.x", "mix/b", "override"),
        ("mix.y", "mix/a", "override"),
    ]


def test_unknown_override_names_and_transforms_are_refused():
    with pytest.raises(ParityError) as e:
        plan(keras_dense("d1", 5, 4), torch_linear("fc1", 5, 4), overrides={"fc9.weight": "d1/kernel"})
    assert "'fc9.weight'" in one_line(e) and "fc1.weight" in str(e.value)
    with pytest.raises(ParityError) as e:
        plan(keras_dense("d1", 5, 4), torch_linear("fc1", 5, 4), overrides={"fc1.weight": "d7/kernel"})
    assert "'d7/kernel'" in one_line(e)
    with pytest.raises(ParityError) as e:
        plan(keras_dense("d1", 5, 4), torch_linear("fc1", 5, 4), transforms={"fc1.weight": "rotate"})
    assert "unknown transform 'rotate'" in str(e.value) and "transpose" in str(e.value)


def test_layer_counts_and_types_that_differ_are_one_line():
    with pytest.raises(ParityError) as e:
        plan(keras_dense("d1", 5, 4) + keras_dense("d2", 4, 3), torch_linear("fc1", 5, 4))
    assert "keras 'd2' (dense) has no twin in torch" in one_line(e) and "ignore=" in str(e.value)
    ok = plan(keras_dense("d1", 5, 4) + keras_dense("d2", 4, 3), torch_linear("fc1", 5, 4), ignore=["d2"])
    assert len(ok.rows) == 2
    conv = [P("torch", "c", "conv2d", "kernel", "c.weight", (5, 4))]
    with pytest.raises(ParityError) as e:
        plan(keras_dense("d1", 4, 5)[:1], conv)
    assert "keras 'd1' (dense) but torch 'c' (conv2d)" in one_line(e)


def test_a_keras_gru_that_resets_before_the_matmul_has_no_torch_twin():
    kg = [P("keras", "gru", "gru", "bias", "gru/gru_cell/bias", (6,))]
    tg = [P("torch", "g", "gru", "bias", "g.bias_ih_l0", (6,)), P("torch", "g", "gru", "recurrent_bias", "g.b", (6,))]
    with pytest.raises(ParityError) as e:
        plan(kg, tg)
    assert "reset_after=True" in one_line(e)


def test_a_missing_bias_is_one_line():
    with pytest.raises(ParityError) as e:
        plan(keras_dense("d1", 5, 4)[:1], torch_linear("fc1", 5, 4))
    assert "'fc1.bias' (4,) has no 'bias' in keras layer 'd1'" in one_line(e)
    with pytest.raises(ParityError) as e:
        plan(torch_linear("fc1", 5, 4), keras_dense("d1", 5, 4)[:1])
    assert "'fc1.bias'" in one_line(e) and "no twin" in str(e.value)


def test_an_lstm_bias_torch_does_not_have_is_refused_not_dropped():
    kl = [P("keras", "lstm", "lstm", "kernel", "lstm/k", (3, 8)), P("keras", "lstm", "lstm", "bias", "lstm/b", (8,))]
    tl = [P("torch", "rnn", "lstm", "kernel", "rnn.weight_ih_l0", (8, 3))]  # nn.LSTM(bias=False)
    with pytest.raises(ParityError) as e:
        plan(kl, tl)
    assert "keras 'lstm/b' (8,) has no twin" in one_line(e) and "ignore=['lstm/b']" in str(e.value)


def test_same_layout_family_copies_as_is_even_after_a_flatten():
    flax = [
        P("jax", "Dense_0", "dense", "kernel", "Dense_0/kernel", (24, 5)),
        P("jax", "Dense_0", "dense", "bias", "Dense_0/bias", (5,)),
    ]
    m = plan(keras_dense("d", 24, 5, ff=(3, 4, 2)), flax)
    assert [r.transform for r in m.rows] == ["identity", "identity"]


def test_both_sides_flattening_different_maps_is_one_line():
    with pytest.raises(ParityError) as e:
        plan(keras_dense("d", 24, 5, ff=(3, 4, 2)), torch_linear("fc", 24, 5, ff=(2, 4, 3)))
    assert "the feature maps differ" in one_line(e)
    ok = plan(keras_dense("d", 24, 5, ff=(3, 4, 2)), torch_linear("fc", 24, 5, ff=(2, 3, 4)))
    assert ok.rows[0].transform == "flatten_to_channels_first(3,4,2)"


def test_a_custom_layer_with_repeated_roles_pairs_by_order_when_shapes_tell():
    src = [
        P("keras", "blk", "block", "kernel", "blk/d1/kernel", (4, 3)),
        P("keras", "blk", "block", "kernel", "blk/d2/kernel", (3, 2)),
    ]
    tgt = [
        P("torch", "blk", "block", "a.weight", "blk.a.weight", (4, 3)),
        P("torch", "blk", "block", "b.weight", "blk.b.weight", (3, 2)),
    ]
    m = plan(src, tgt)
    assert [(r.target.name, r.sources[0].name) for r in m.rows] == [
        ("blk.a.weight", "blk/d1/kernel"),
        ("blk.b.weight", "blk/d2/kernel"),
    ]


def test_a_weight_map_record_with_an_unknown_field_is_refused():
    d = plan(keras_dense("d1", 5, 4), torch_linear("fc1", 5, 4)).to_json()
    d["rows"][0]["target"]["layout"] = "nhwc"
    with pytest.raises(ParityError) as e:
        WeightMap.from_json(d)
    assert "unknown fields ['layout']" in one_line(e)


def test_a_flax_tree_reads_in_its_own_order_and_takes_torch_weights():
    rng = np.random.default_rng(2)
    tree = {
        "params": {
            "Dense_0": {"kernel": np.zeros((5, 4), np.float32), "bias": np.zeros(4, np.float32)},
            "BatchNorm_0": {"scale": np.ones(4, np.float32), "bias": np.zeros(4, np.float32)},
        },
        "batch_stats": {"BatchNorm_0": {"mean": np.zeros(4, np.float32), "var": np.ones(4, np.float32)}},
    }
    table = read_pytree(tree)
    assert [(p.layer, p.layer_type, p.role) for p in table] == [
        ("Dense_0", "dense", "kernel"),
        ("Dense_0", "dense", "bias"),
        ("BatchNorm_0", "batchnorm", "gamma"),
        ("BatchNorm_0", "batchnorm", "beta"),
        ("BatchNorm_0", "batchnorm", "moving_mean"),
        ("BatchNorm_0", "batchnorm", "moving_variance"),
    ]
    roles = ("gamma", "beta", "moving_mean", "moving_variance")
    names = ("weight", "bias", "running_mean", "running_var")
    torch_table = torch_linear("fc", 5, 4) + [
        P("torch", "bn", "batchnorm", r, f"bn.{n}", (4,)) for r, n in zip(roles, names, strict=True)
    ]
    src = {p.name: rng.normal(size=p.shape).astype(np.float32) for p in torch_table}
    new = assign_pytree(tree, plan(torch_table, table).apply(src))
    np.testing.assert_array_equal(new["params"]["Dense_0"]["kernel"], src["fc.weight"].T)
    np.testing.assert_array_equal(new["batch_stats"]["BatchNorm_0"]["var"], src["bn.running_var"])
    assert set(pytree_arrays(new)) == {p.name for p in table}


def test_transform_specs_parse_and_refuse():
    t, args = layouts.parse("flatten_to_channels_first(7, 7, 32)")
    assert t.name == "flatten_to_channels_first" and args == (7, 7, 32)
    assert layouts.spec(t.name, *args) == "flatten_to_channels_first(7,7,32)"
    with pytest.raises(ParityError, match="unknown transform"):
        layouts.parse("transpose(")


# ------------------------------------------------------------------------- Keras and torch models, in-process


@pytest.fixture(scope="module")
def fw():
    """Keras (on the JAX backend unless Keras is loaded already) and torch; a skip without torch."""
    need_torch()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax"))
        mp.setenv("JAX_PLATFORMS", os.environ.get("JAX_PLATFORMS", "cpu"))
        import keras
        import torch

    torch.manual_seed(0)
    print(f"Keras {keras.__version__} on {keras.backend.backend()}, torch {torch.__version__}")
    return keras, torch


def _randomize(keras_model, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    for v in keras_model.weights:
        v.assign(rng.normal(scale=scale, size=tuple(v.shape)).astype(np.float32))


def _port(keras_model, torch_model, example=None, **kw):
    from paritybench.adapters.keras_params import keras_arrays, read_keras
    from paritybench.adapters.torch_params import assign_torch, read_torch

    m = plan(read_keras(keras_model), read_torch(torch_model, example), **kw)
    assign_torch(torch_model, m.apply(keras_arrays(keras_model)))
    return m


def _diff(keras_model, torch_model, x_keras, x_torch, torch_out=lambda y: y):
    import torch

    torch_model.eval()
    with torch.no_grad():
        yt = torch_out(torch_model(torch.as_tensor(x_torch))).numpy()
    yk = np.asarray(keras_model(x_keras, training=False))
    return float(np.max(np.abs(yk - yt))), float(np.max(np.abs(yk)))


def agree(d_scale: tuple[float, float], what: str) -> bool:
    d, scale = d_scale
    print(f"max|a - b| {what}: {d:.3g} at max|y| {scale:.3g}")
    return d <= ULPS * max(1.0, scale)


def part(d_scale: tuple[float, float]) -> bool:
    print(f"max|a - b| literal port: {d_scale[0]:.3g}")
    return d_scale[0] > PART


@pytest.mark.slow
def test_keras_mlp_maps_to_torch_and_back(fw):
    keras, torch = fw
    km = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(3)])
    _randomize(km)
    tm = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    x = np.random.default_rng(3).normal(size=(8, 5)).astype(np.float32)
    _port(km, tm)
    assert agree(_diff(km, tm, x, x), "dense")
    # literal: the kernel's memory reinterpreted as (out, in) (a reshape, not a transpose)
    from paritybench.adapters.keras_params import keras_arrays

    w = keras_arrays(km)
    with torch.no_grad():
        tm[0].weight.copy_(torch.as_tensor(w[km.layers[0].kernel.path].reshape(4, 5)))
    assert part(_diff(km, tm, x, x))
    # torch -> Keras: a fresh torch model into the Keras model
    from paritybench.adapters.keras_params import assign_keras, read_keras
    from paritybench.adapters.torch_params import read_torch, torch_arrays

    t2 = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    assign_keras(km, plan(read_torch(t2), read_keras(km)).apply(torch_arrays(t2)))
    assert agree(_diff(km, t2, x, x), "dense torch->keras")


class _ConvNet:
    @staticmethod
    def build(torch, dims):
        conv = torch.nn.Conv2d if dims == 2 else torch.nn.Conv1d
        flat = 3 * (6 * 6 if dims == 2 else 6)
        return torch.nn.Sequential(conv(2, 3, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(flat, 4))


@pytest.mark.slow
@pytest.mark.parametrize("dims", [2, 1])
def test_keras_conv_flatten_dense_maps_to_torch_with_rows_permuted(fw, dims):
    keras, torch = fw
    spatial = (8, 8) if dims == 2 else (8,)
    conv = keras.layers.Conv2D if dims == 2 else keras.layers.Conv1D
    km = keras.Sequential(
        [keras.Input((*spatial, 2)), conv(3, 3, activation="relu"), keras.layers.Flatten(), keras.layers.Dense(4)]
    )
    _randomize(km, seed=dims)
    tm = _ConvNet.build(torch, dims)
    x = np.random.default_rng(4).normal(size=(6, *spatial, 2)).astype(np.float32)
    x_cf = np.moveaxis(x, -1, 1).copy()
    m = _port(km, tm)
    assert m.rows[0].transform == ("hwio_to_oihw")
    assert m.rows[2].transform == (
        "flatten_to_channels_first(6,6,3)" if dims == 2 else "flatten_to_channels_first(6,3)"
    )
    assert agree(_diff(km, tm, x, x_cf), f"conv{dims}d+flatten")
    # literal: the Dense kernel only transposed, the Flatten's order ignored
    _port(km, tm, transforms={"3.weight": "transpose"})
    assert part(_diff(km, tm, x, x_cf))
    # torch -> Keras, the Flatten seen by torch's forward hooks (the Keras table knows it too)
    from paritybench.adapters.keras_params import assign_keras, read_keras
    from paritybench.adapters.torch_params import read_torch, torch_arrays

    t2 = _ConvNet.build(torch, dims)
    src = read_torch(t2, example=torch.as_tensor(x_cf))
    assert src[2].flatten_from == ((3, 6, 6) if dims == 2 else (3, 6))
    assign_keras(km, plan(src, read_keras(km)).apply(torch_arrays(t2)))
    assert agree(_diff(km, t2, x, x_cf), f"conv{dims}d+flatten torch->keras")


@pytest.mark.slow
def test_keras_embedding_layernorm_and_batchnorm_map_to_torch(fw):
    keras, torch = fw
    km = keras.Sequential(
        [
            keras.Input((4,), dtype="int32"),
            keras.layers.Embedding(10, 6),
            keras.layers.LayerNormalization(epsilon=1e-5),
            keras.layers.Dense(5),
            keras.layers.BatchNormalization(epsilon=1e-5),
        ]
    )
    _randomize(km, seed=5)
    for v in km.layers[-1].weights:  # a variance must be positive (and so the crossed port's mean)
        if v.name in ("moving_mean", "moving_variance"):
            v.assign(np.abs(np.asarray(v.numpy())) + 0.5)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            # registered out of forward order: the table follows the forward pass it is given
            self.bn = torch.nn.BatchNorm1d(5, eps=1e-5)
            self.emb = torch.nn.Embedding(10, 6)
            self.ln = torch.nn.LayerNorm(6, eps=1e-5)
            self.fc = torch.nn.Linear(6, 5)

        def forward(self, ids):
            h = self.fc(self.ln(self.emb(ids)))  # (N, T, 5)
            return self.bn(h.transpose(1, 2)).transpose(1, 2)

    tm = Net()
    ids = np.random.default_rng(6).integers(0, 10, size=(3, 4)).astype(np.int64)
    with pytest.raises(ParityError, match="layer 1 with weights is keras 'embedding'"):
        _port(km, tm)  # registration order: bn first
    m = _port(km, tm, example=torch.as_tensor(ids))
    assert [r.target.name for r in m.rows][-1] == "bn.num_batches_tracked" and m.rows[-1].transform == "keep"
    assert agree(_diff(km, tm, ids.astype(np.int32), ids), "embedding+layernorm+batchnorm")
    # literal: the moving mean and variance crossed
    _port(
        km,
        tm,
        example=torch.as_tensor(ids),
        overrides={
            "bn.running_mean": km.layers[-1].moving_variance.path,
            "bn.running_var": km.layers[-1].moving_mean.path,
        },
        ignore=[],
    )
    assert part(_diff(km, tm, ids.astype(np.int32), ids))


@pytest.mark.slow
def test_keras_lstm_maps_to_torch_and_a_bias_copied_into_both_parts(fw):
    keras, torch = fw
    km = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4)])
    _randomize(km, seed=7)
    tm = torch.nn.LSTM(3, 4, batch_first=True)
    x = np.random.default_rng(8).normal(size=(2, 5, 3)).astype(np.float32)

    def last(out):
        return out[0][:, -1]

    m = _port(km, tm)
    assert [r.transform for r in m.rows] == ["transpose", "transpose", "identity", "zeros"]
    assert agree(_diff(km, tm, x, x, last), "lstm")
    # issue 18's own_lstm literal port: Keras's one bias copied into both of torch's
    bias = km.layers[0].cell.bias.path
    _port(km, tm, overrides={"bias_hh_l0": bias}, transforms={"bias_hh_l0": "identity"})
    assert part(_diff(km, tm, x, x, last))
    # torch -> Keras: the two biases summed
    from paritybench.adapters.keras_params import assign_keras, read_keras
    from paritybench.adapters.torch_params import read_torch, torch_arrays

    t2 = torch.nn.LSTM(3, 4, batch_first=True)
    back = plan(read_torch(t2), read_keras(km))
    assert back.rows[-1].transform == "sum"
    assign_keras(km, back.apply(torch_arrays(t2)))
    assert agree(_diff(km, t2, x, x, last), "lstm torch->keras")
    # a stacked torch LSTM (num_layers=2) is one mapped layer per Keras LSTM
    k2 = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4, return_sequences=True), keras.layers.LSTM(4)])
    _randomize(k2, seed=12)
    t3 = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True)
    assert [p.layer for p in read_torch(t3)][::4] == ["(root)/l0", "(root)/l1"]
    _port(k2, t3)
    assert agree(_diff(k2, t3, x, x, last), "2-layer lstm")


@pytest.mark.slow
def test_keras_gru_maps_to_torch_with_its_gates_swapped(fw):
    keras, torch = fw
    km = keras.Sequential([keras.Input((5, 3)), keras.layers.GRU(4)])
    _randomize(km, seed=9)
    tm = torch.nn.GRU(3, 4, batch_first=True)
    x = np.random.default_rng(10).normal(size=(2, 5, 3)).astype(np.float32)

    def last(out):
        return out[0][:, -1]

    m = _port(km, tm)
    assert [r.transform for r in m.rows] == [
        "gru_kernel_to_torch",
        "gru_kernel_to_torch",
        "gru_input_bias_to_torch",
        "gru_recurrent_bias_to_torch",
    ]
    assert agree(_diff(km, tm, x, x, last), "gru")
    # literal: kernels transposed but the gates left in Keras's z, r, h order
    _port(km, tm, transforms={"weight_ih_l0": "transpose", "weight_hh_l0": "transpose"})
    assert part(_diff(km, tm, x, x, last))
    from paritybench.adapters.keras_params import assign_keras, read_keras
    from paritybench.adapters.torch_params import read_torch, torch_arrays

    t2 = torch.nn.GRU(3, 4, batch_first=True)
    assign_keras(km, plan(read_torch(t2), read_keras(km)).apply(torch_arrays(t2)))
    assert agree(_diff(km, t2, x, x, last), "gru torch->keras")


@pytest.mark.slow
def test_torch_mlp_maps_to_a_pure_jax_pytree(fw):
    _keras, torch = fw
    tm = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    from paritybench.adapters.torch_params import read_torch, torch_arrays

    params = {"hidden": {"w": np.zeros((5, 4), np.float32), "b": np.zeros(4, np.float32)}}
    params["out"] = {"w": np.zeros((4, 3), np.float32), "b": np.zeros(3, np.float32)}
    new = assign_pytree(params, plan(read_torch(tm), read_pytree(params)).apply(torch_arrays(tm)))

    def apply(p, x):  # a user's pure function, written with numpy in place of jax.numpy
        return np.tanh(x @ p["hidden"]["w"] + p["hidden"]["b"]) @ p["out"]["w"] + p["out"]["b"]

    x = np.random.default_rng(11).normal(size=(7, 5)).astype(np.float32)
    with torch.no_grad():
        yt = tm(torch.as_tensor(x)).numpy()
    assert agree((float(np.max(np.abs(apply(new, x) - yt))), float(np.max(np.abs(yt)))), "torch->pytree")


def test_every_gather_rule_is_the_index_of_its_numpy_rule_and_the_others_refuse():
    rng = np.random.default_rng(13)
    cases = {
        "transpose": ([(3, 8)], (8, 3)),
        "hwio_to_oihw": ([(3, 3, 2, 5)], (5, 2, 3, 3)),
        "oiw_to_wio": ([(5, 2, 3)], (3, 2, 5)),
        "gru_kernel_to_torch": ([(3, 12)], (12, 3)),
        "gru_kernel_from_torch": ([(12, 3)], (3, 12)),
        "gru_input_bias_to_torch": ([(2, 12)], (12,)),
        "gru_recurrent_bias_to_torch": ([(2, 12)], (12,)),
        "gru_bias_from_torch": ([(12,), (12,)], (2, 12)),
        "flatten_to_channels_first(4,3,2)": ([(24, 5)], (5, 24)),
        "flatten_from_channels_first(2,4,3)": ([(5, 24)], (24, 5)),
        "identity": ([(4,)], (4,)),
        "reshape": ([(5,)], (5, 1, 1)),
    }
    gathers = {t for t in layouts.TRANSFORMS.values() if t.gather}  # the 1-D conv names are aliases
    assert {layouts.parse(s)[0] for s in cases} == gathers  # every gather rule is checked here
    for spec, (shapes, target) in cases.items():
        sources = [rng.normal(size=s) for s in shapes]
        index = layouts.gather_index(spec, shapes, target)
        flat = np.concatenate([s.reshape(-1) for s in sources])
        np.testing.assert_array_equal(flat[index], layouts.apply(spec, sources, target), err_msg=spec)
    for spec in ("sum", "zeros", "keep"):
        with pytest.raises(ValueError, match="computes its values"):
            layouts.gather_index(spec, [(4,), (4,)], (4,))


def test_a_declared_tree_in_keras_cell_layout_reads_as_lstm_or_gru():
    lstm = read_pytree(
        {"rnn": {"kernel": np.zeros((3, 16)), "recurrent_kernel": np.zeros((4, 16)), "bias": np.zeros(16)}}
    )
    gru = read_pytree(
        {"rnn": {"kernel": np.zeros((3, 12)), "recurrent_kernel": np.zeros((4, 12)), "bias": np.zeros((2, 12))}}
    )
    odd = read_pytree({"rnn": {"kernel": np.zeros((3, 10)), "recurrent_kernel": np.zeros((4, 10))}})
    assert {p.layer_type for p in lstm} == {"lstm"} and {p.layer_type for p in gru} == {"gru"}
    assert {p.layer_type for p in odd} == {"unknown"}
    torch_gru = [
        P("torch", "g", "gru", "kernel", "g.weight_ih_l0", (12, 3)),
        P("torch", "g", "gru", "recurrent_kernel", "g.weight_hh_l0", (12, 4)),
        P("torch", "g", "gru", "bias", "g.bias_ih_l0", (12,)),
        P("torch", "g", "gru", "recurrent_bias", "g.bias_hh_l0", (12,)),
    ]
    assert [r.transform for r in plan(gru, torch_gru).rows] == [
        "gru_kernel_to_torch",
        "gru_kernel_to_torch",
        "gru_input_bias_to_torch",
        "gru_recurrent_bias_to_torch",
    ]
