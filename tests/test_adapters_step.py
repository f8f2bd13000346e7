"""issue 18 item 3, JAX: the user's own jitted train step as the arm's step (``JaxModel(..., step=...)``)."""

from __future__ import annotations

import inspect
from dataclasses import replace

import numpy as np
import pytest

from paritybench.adapters.arms import JaxModel, own_workload
from paritybench.arms import TrainSpec, jax_trainer
from paritybench.errors import ParityError
from paritybench.experiment.flags import NumericsOptions
from paritybench.experiment.weights import weights_sha256
from paritybench.pipeline import localize
from paritybench.workloads import Data, Training

from .test_adapters_arms import DECLARED, data, user_apply, user_init, user_loss


def adam():
    import optax

    return optax.adam(1e-2, eps=1e-7)


# The user's train steps, as users write them: jitted, over their own tree, closing over their own optimizer.
def standard_step(optimizer):
    import jax
    import optax

    @jax.jit
    def train_step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(lambda p: user_loss(user_apply(p, x), y))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return train_step


def plain_step(optimizer):
    """The same step, not jitted: traced into paritybench's program as it is."""
    return standard_step(optimizer).__wrapped__


def clipping_step(optimizer):
    """Clips the gradient's global norm before the optimizer, inside the step (the optimizer itself does not)."""
    import jax
    import optax

    clip = optax.clip_by_global_norm(0.05)

    @jax.jit
    def train_step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(lambda p: user_loss(user_apply(p, x), y))(params)
        grads, _ = clip.update(grads, clip.init(params))
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, {"loss": loss, "grads_clipped": True}

    return train_step


def workload(make_step, *, batch_size=None):
    optimizer = adam()
    model = JaxModel(user_apply, user_init, optimizer, user_loss, make_step(optimizer))
    return own_workload(
        "own-step",
        "Does my jitted train step train what paritybench's step of the same model trains?",
        params=DECLARED,
        head="linear",
        data=Data(source=data, n=64, batch_size=batch_size),
        training=Training(steps=12, lr=1e-2),
        jax=model,
    )


@pytest.mark.parametrize(
    ("make", "batch_size"),
    [(standard_step, None), (standard_step, 16), (plain_step, None)],
    ids=["full-batch", "minibatch", "not-jitted"],
)
def test_a_standard_optax_step_trains_the_same_bits_as_paritybenchs_step(make, batch_size):
    w = workload(make, batch_size=batch_size)
    assert [a.name for a in w.arms] == ["jax", "jax-step", "reference-f64"]
    init = w.model.init(0)
    x, y = data()
    spec = TrainSpec(steps=12, lr=1e-2, batch_size=batch_size)
    ours = jax_trainer.train_many(w, w.arm("jax"), [init], x, y, spec)[0]
    theirs = jax_trainer.train_many(w, w.arm("jax-step"), [init], x, y, spec)[0]
    moved = max(float(np.max(np.abs(theirs.final_weights[k] - init[k]))) for k in DECLARED)
    assert moved > 1e-3  # it trained
    assert weights_sha256(theirs.final_weights) == weights_sha256(ours.final_weights)
    assert theirs.curves["loss"] == ours.curves["loss"] and theirs.curves["grad_norm"] == ours.curves["grad_norm"]
    rec = theirs.info["user_step"]
    assert rec["agrees"] and rec["step"].endswith("standard_step.<locals>.train_step")  # its own name, jitted or not
    assert len(rec["loss"]) == 12 and "user_step" not in ours.info
    if batch_size is None:  # one batch: the loss the step returned is the curve's, step by step
        assert rec["loss"] == ours.curves["loss"][:-1]


def test_a_step_that_trains_on_something_else_is_reported():
    def scaled(optimizer):
        import jax
        import optax

        @jax.jit
        def train_step(params, opt_state, x, y):
            loss, grads = jax.value_and_grad(lambda p: user_loss(user_apply(p, x), 2.0 * y))(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss, {"aux": 1}

        return train_step

    w = workload(scaled)
    x, y = data()
    res = jax_trainer.train_many(w, w.arm("jax-step"), [w.model.init(0)], x, y, TrainSpec(steps=3, lr=1e-2))[0]
    rec = res.info["user_step"]
    assert not rec["agrees"] and rec["first_mismatch"]["step"] == 0
    assert rec["max_relative_difference"] > 100 * rec["tolerance"]


def test_a_step_that_clips_parts_at_step_0_in_the_update_phase():
    w = workload(clipping_step)
    x, y = data()
    ctx = localize.Context(w, w.training.lr, 3, x, y, w.model.init(0), NumericsOptions(), n=64)
    cache: dict = {}
    clipped = localize.localize_pair(ctx, w.arm("jax-step"), w.arm("reference-f64"), cache)
    assert clipped.first is not None, clipped.line()
    assert (clipped.first.step, clipped.first.phase) == (0, "update")
    print(clipped.line())
    # Adam's first update is g / (|g| + eps) per element: a global scale of g changes it only through eps, so the
    # moments, which carry the clipped gradient itself, part at step 0 whatever the weights do
    assert {f"adam/mu/{k}" for k in DECLARED} <= set(clipped.parted_tensors)
    # paritybench's step of the same model, with the same optimizer, does not part: the clip is the step's own
    plain = localize.localize_pair(ctx, w.arm("jax"), w.arm("reference-f64"), cache)
    assert plain.first is None, plain.line()


def test_a_standard_step_does_not_part_in_localize():
    w = workload(standard_step)
    x, y = data()
    ctx = localize.Context(w, w.training.lr, 3, x, y, w.model.init(0), NumericsOptions(), n=64)
    r = localize.localize_pair(ctx, w.arm("jax-step"), w.arm("jax"), {})
    # the user's step runs as its own compiled program here, paritybench's update op by op: the same arithmetic,
    # rounded apart by at most a fraction of the noise floor
    assert r.first is None and r.max_ratio < 1.0, r.line()


def two_things(optimizer):
    import jax

    @jax.jit
    def train_step(params, opt_state, x, y):
        return params, opt_state  # the line the error names is the def above

    return train_step


def wrong_tree(optimizer):
    import jax

    @jax.jit
    def train_step(params, opt_state, x, y):
        return params["hidden"], opt_state, 0.0

    return train_step


def vector_loss(optimizer):
    import jax

    @jax.jit
    def train_step(params, opt_state, x, y):
        return params, opt_state, user_apply(params, x)

    return train_step


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (two_things, "returns a 2-tuple"),
        (wrong_tree, "returns params of another structure"),
        (vector_loss, "returns a loss of shape (64, 1), not a scalar"),
    ],
)
def test_a_step_returning_the_wrong_things_is_refused_in_one_line_before_training(make, problem):
    w = workload(make)
    x, y = data()
    arm = w.arm("jax-step")
    with pytest.raises(ParityError) as e:
        jax_trainer.JaxKind().forward_shape(w, arm, x, w.model.init(0))  # check_forward, before training
    msg = str(e.value)
    line = inspect.getsourcelines(make)[1] + 4  # the step's def, under its decorator
    assert "\n" not in msg and problem in msg, msg
    assert f"test_adapters_step.py:{line}" in msg and "return (params, opt_state, loss)" in msg, msg


def test_a_step_that_raises_is_reported_at_the_users_file_and_line_before_training():
    def raising(optimizer):
        def train_step(params, opt_state, x, y):
            raise KeyError("encoder")  # the line the error names

        return train_step

    w = workload(raising)
    x, _ = data()
    with pytest.raises(ParityError) as e:
        jax_trainer.JaxKind().forward_shape(w, w.arm("jax-step"), x, w.model.init(0))
    msg = str(e.value)
    line = inspect.getsourcelines(raising)[1] + 2
    assert "\n" not in msg and f"test_adapters_step.py:{line}: KeyError: 'encoder'" in msg, msg


def test_a_step_on_an_arm_that_is_not_float32_jax_is_refused():
    from paritybench.workloads.base import check

    w = workload(standard_step)
    bad = replace(w, arms=(*w.arms, replace(w.arm("jax-step"), name="f64-step", kind="f64")))
    with pytest.raises(ParityError, match="arm f64-step: jax_step is a float32 JAX arm's own step"):
        check(bad, "the test")
