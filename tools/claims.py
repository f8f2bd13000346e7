"""The figures the docs state about the catalogue's mechanisms, computed at each workload's initial weights.

Usage: ``.venv/bin/python tools/claims.py [--out results/claims/claims.json]``

Every figure here is computed, not trained: the bundled MNIST slice, the workload's preset window and
seed 0's initial weights (the weights every arm of the workload starts from), then one forward pass and,
where the claim is about a gradient, one backward pass. ``tools/gen_docs.py`` writes these figures into
the docs; ``tests/test_claims.py`` computes them again and holds them to the committed file.

Frameworks are imported inside the functions: paritybench's numerics flags go into the environment
first (``paritybench.experiment.flags``), as in every paritybench process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "results" / "claims" / "claims.json"
COMMAND = ".venv/bin/python tools/claims.py"

# float32's sigmoid 1 / (1 + exp(-z)) rounds to exactly 1.0 once exp(-z) < 2**-24 (z > 24 ln 2 = 16.64),
# and to exactly 0.0 once exp(-z) overflows (z < -ln(FLT_MAX) = -88.72). XLA on the CPU flushes
# subnormal results to zero, so there p is 0 already below -ln(FLT_MIN_NORMAL) = -87.34.
SATURATION_LOGIT = 24 * math.log(2)


def setup() -> None:
    """paritybench's default numerics flags, in the environment before any framework is imported."""
    from paritybench.experiment import flags

    flags.apply(flags.NumericsOptions())


def _window(name: str):
    from paritybench.experiment import data
    from paritybench.workloads import registry

    w = registry.load(name)
    x, y = data.window(data.load_mnist(), 0, w.data.n, w.data.normalize, labels=w.data.labels)
    return w, x, y


def seed_bce() -> dict:
    """seed-bce at seed 0, window 0: where float32's sigmoid saturates, which samples each clipped or
    probability-based loss leaves without a gradient, and how torch's ``binary_cross_entropy`` splits."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch
    import torch.nn.functional as F

    from paritybench.workloads.seed_bce import jax_model as m

    _, x, y = _window("seed-bce")
    params = {k: jnp.asarray(v) for k, v in m.init(0).items()}
    z = np.array(m.apply(params, jnp.asarray(x)), dtype=np.float32).ravel()
    label = y.ravel()
    n = z.size
    # IEEE float32 sigmoid (torch's, and NumPy's): p == 0 only where exp(-z) overflows
    p_ieee = torch.sigmoid(torch.from_numpy(z)).numpy()
    p_xla = np.asarray(jax.nn.sigmoid(jnp.asarray(z)))
    pos = z > SATURATION_LOGIT
    neg = z < -SATURATION_LOGIT
    zero = p_ieee == 0.0
    tiny = neg & ~zero
    wrong = np.where(label == 1.0, z <= 0, z > 0)

    # torch-bce: F.binary_cross_entropy(torch.sigmoid(z), y), per sample (each loss's own gradient, as
    # localize and the per-step diagnostics take it) and as the training step takes it (the mean's).
    zt = torch.from_numpy(z.reshape(-1, 1)).requires_grad_(True)
    yt = torch.from_numpy(y)
    F.binary_cross_entropy(torch.sigmoid(zt), yt, reduction="none").sum().backward()
    per_sample = zt.grad.numpy().ravel()
    zt.grad = None
    F.binary_cross_entropy(torch.sigmoid(zt), yt).backward()
    mean_grad = zt.grad.numpy().ravel()
    dead = per_sample == 0.0
    dead_mean = mean_grad == 0.0
    under = dead & (p_ieee != 0.0) & (p_ieee != 1.0)
    under_mean = dead_mean & (p_ieee != 0.0) & (p_ieee != 1.0)
    return {
        "n": n,
        "logit_above": int(pos.sum()),
        "logit_above_misclassified": int((pos & wrong).sum()),
        "logit_below": int(neg.sum()),
        "logit_below_misclassified": int((neg & wrong).sum()),
        "p_one": int((p_ieee == 1.0).sum()),
        "p_zero": int(zero.sum()),
        "p_zero_misclassified": int((zero & wrong).sum()),
        "p_tiny": int(tiny.sum()),
        "p_tiny_misclassified": int((tiny & wrong).sum()),
        "p_tiny_max": float(p_ieee[tiny].max()),
        "p_zero_xla": int((p_xla == 0.0).sum()),
        "p_one_xla": int((p_xla == 1.0).sum()),
        "z_p_zero_ieee": -math.log(float(np.finfo(np.float32).max)),
        "z_p_zero_xla": math.log(float(np.finfo(np.float32).tiny)),
        "torch_bce_dead": int(dead.sum()),
        "torch_bce_dead_p_one": int((dead & (p_ieee == 1.0)).sum()),
        "torch_bce_dead_p_zero": int((dead & zero).sum()),
        "torch_bce_dead_underflow": int(under.sum()),
        "torch_bce_dead_underflow_label0": int((under & (label == 0.0)).sum()),
        "torch_bce_mean_grad_zeros": int(dead_mean.sum()),
        "torch_bce_mean_grad_underflow": int(under_mean.sum()),
        "torch_version": torch.__version__,
    }


def softmax_ce() -> dict:
    """softmax-ce at seed 0, window 0: saturated softmax outputs and the clipped loss's dead samples."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from paritybench.workloads.softmax_ce import jax_model as m

    _, x, y = _window("softmax-ce")
    params = {k: jnp.asarray(v) for k, v in m.init(0).items()}
    z = m.apply(params, jnp.asarray(x))
    p32 = np.asarray(jax.nn.softmax(z))
    z64 = np.asarray(z, dtype=np.float64)
    e = np.exp(z64 - z64.max(axis=1, keepdims=True))
    p64 = e / e.sum(axis=1, keepdims=True)
    grad = np.asarray(jax.grad(lambda zz: jnp.sum(m.keras_clip(zz, jnp.asarray(y))))(z))
    dead = np.all(grad == 0.0, axis=1)
    wrong = np.argmax(np.asarray(z), axis=1) != np.argmax(y, axis=1)
    true_p = np.sum(p32 * y, axis=1)
    n = len(y)
    return {
        "n": n,
        "saturated_f32": int(np.any((p32 == 0.0) | (p32 == 1.0), axis=1).sum()),
        "saturated_f64": int(np.any((p64 == 0.0) | (p64 == 1.0), axis=1).sum()),
        "true_class_below_eps": int((true_p < 1e-7).sum()),
        "clip_dead": int(dead.sum()),
        "clip_dead_misclassified": int((dead & wrong).sum()),
    }


def adam_epsilon() -> dict:
    """Keras's epsilon in optax terms, eps_t = eps / sqrt(1 - b2^t), as a multiple of eps."""
    b2 = 0.999
    return {f"eps_ratio_t{t}": 1.0 / math.sqrt(1.0 - b2**t) for t in (1, 2, 3, 1000, 5000)}


def same_padding() -> dict:
    """same-padding at seed 0, window 0: the port's forward pass against TF's at the same weights, and how
    many images have ink in the last row or column (where the shift argument stops being exact)."""
    import jax.numpy as jnp
    import numpy as np

    from paritybench.workloads.same_padding import jax_model as m

    _, x, _ = _window("same-padding")
    params = {k: jnp.asarray(v) for k, v in m.init(0).items()}
    same = np.asarray(m.apply(params, jnp.asarray(x)))
    port = np.asarray(m.apply_torch_pad(params, jnp.asarray(x)))
    imgs = x.reshape(-1, 28, 28)
    edge = (imgs[:, -1, :] != 0).any(axis=1) | (imgs[:, :, -1] != 0).any(axis=1)
    return {
        "n": len(x),
        "max_abs_logit_diff": float(np.max(np.abs(same - port))),
        "logit_std_same": float(np.std(same)),
        "edge_ink_images": int(edge.sum()),
    }


def compute() -> dict:
    """Every claim, with the command that wrote it."""
    return {
        "kind": "paritybench-claims",
        "version": 1,
        "command": COMMAND,
        "seed": 0,
        "window": 0,
        "seed_bce": seed_bce(),
        "softmax_ce": softmax_ce(),
        "adam_epsilon": adam_epsilon(),
        "same_padding": same_padding(),
    }


def write(claims: dict, out: Path) -> None:
    """Write ``claims`` to ``out`` whole (a temporary file in the same folder, then a rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".claims-", suffix=".json", dir=out.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(claims, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    setup()
    write(compute(), args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
