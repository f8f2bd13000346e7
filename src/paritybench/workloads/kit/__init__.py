"""The kit every built-in workload is built on: what two or more workloads would otherwise write again.

One module per framework, with the same function names where they do the same thing (as Keras keeps
``keras/src/backend/{jax,tensorflow,torch}/``): ``jax`` (stax's initial draw, the MLP forward pass and its
named layers, the BatchNormalization MLP, the one-convolution classifier's layers), ``keras`` (those models as
a ``Sequential``, the losses and optimizers as a Keras user writes them), ``torch`` (the functional models,
torch's losses and optimizers), ``f64`` (the seed MLP's hand-derived float64 arbiter in NumPy). Beside them:
``losses`` (the loss formulations each framework computes, written in JAX, with the numerics at the line;
``bce`` gives a sigmoid folder's three under the names its ``jax_model`` re-exports),
``optimizers`` (Keras's Adam as an optax transform), ``init`` (Keras's default initial weights drawn with
NumPy), ``mlp`` (the MLP's parameters declared once, plain and with a BatchNormalization, and its
one-hidden-layer forward pass on any framework's arrays), ``conv`` (the one-convolution image classifier's
parameters and the setting it trains in), ``arms`` (the arm constructors and the evidence overlay) and
``folder`` (``Folder``: a workload folder's references spelled once, the arm constructors by role bound to
them, the ``Workload`` built with its evidence).

Rules the tests keep: the kit names no workload and no workload imports another (each imports the kit);
``mlp``, ``conv``, ``arms``, ``folder`` and this package import no ML framework, so a workload's declaration
loads in any process before the numerics flags are set; the framework modules are reached through
``"module:function"`` references, resolved when an arm runs.
"""
