"""Does ``arms.keras_worker.fit_order`` give the order Keras's ``fit(shuffle=True)`` trains in, on this backend?

Usage: ``.venv/bin/python tools/fit_order_check.py BACKEND`` (jax, tensorflow or torch; one process per backend,
as Keras fixes its backend at import). A freshly compiled Dense(1) model on 64 random samples is trained by
``fit(x, y, batch_size=8, epochs=3, shuffle=True)`` after ``keras.utils.set_random_seed(5)``, and a second copy
from the same weights batch by batch (``fit(shuffle=False)`` on one batch each) in ``fit_order``'s rows; prints
the largest difference of their final weights (0.0: the same order), and on JAX whether the rows are
``arms.minibatch.numpy_fit_order``'s.
"""

from __future__ import annotations

import os
import sys

BACKEND = sys.argv[1] if len(sys.argv) > 1 else "jax"
os.environ["KERAS_BACKEND"] = BACKEND

import keras  # noqa: E402  (after KERAS_BACKEND: Keras reads it at import)
import numpy as np  # noqa: E402

from paritybench.arms.keras_worker import fit_order  # noqa: E402
from paritybench.arms.minibatch import numpy_fit_order, order_rows  # noqa: E402

N, BATCH, EPOCHS, SEED = 64, 8, 3, 5


def model():
    keras.utils.set_random_seed(123)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return m


def main() -> int:
    rs = np.random.RandomState(1)
    x, y = rs.randn(N, 4).astype("float32"), rs.randn(N, 1).astype("float32")
    fitted = model()
    w0 = fitted.get_weights()
    keras.utils.set_random_seed(SEED)
    fitted.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=True, verbose=0)
    steps = EPOCHS * N // BATCH
    rows = fit_order(keras, BACKEND, SEED, N, BATCH, steps)
    stepped = model()
    stepped.set_weights(w0)
    for r in rows:
        stepped.fit(x[r], y[r], batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(fitted.get_weights(), stepped.get_weights(), strict=True))
    numpy_rows = order_rows(numpy_fit_order(SEED, N, EPOCHS), BATCH, steps)
    same_as_numpy = all(np.array_equal(a, b) for a, b in zip(rows, numpy_rows, strict=True))
    print(f"{BACKEND}: max|fit(shuffle=True) - fit_order batch by batch| = {diff}")
    print(f"{BACKEND}: the rows are numpy_fit_order's: {same_as_numpy}")
    return 0 if diff == 0.0 else 1


if __name__ == "__main__":
    sys.exit(main())
