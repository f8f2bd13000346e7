"""A built Keras arm's conventions, read from its model and optimizer: the rows ``paritybench conventions``
shows, in the Keras worker that trained it (``keras_worker``) or in an inspection worker (``keras_inspect``).
Takes the live ``KerasArm``; imports no framework (the arm carries its ``keras`` module)."""

from __future__ import annotations

import inspect

from paritybench.arms import keras_activations, keras_optimizers
from paritybench.experiment import flags


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if callable(v):
        return ref_name(v)  # a function in a config: its name, never its repr's address
    try:
        return float(v)
    except (TypeError, ValueError):
        s = str(v)
        return type(v).__name__ if " at 0x" in s else s


def ref_name(ref) -> str:
    """A workload reference as a stable name: a string reference as written, a callable as ``module:qualname``
    (never its repr, whose memory address differs between processes)."""
    if ref is None or isinstance(ref, str):
        return str(ref)
    module = getattr(ref, "__module__", None)
    qual = getattr(ref, "__qualname__", None) or getattr(ref, "__name__", None)
    if module and qual:
        return f"{module}:{qual}"
    return type(ref).__name__  # an object without a name: its class, never an address


def initial_weights(workload, arm) -> str:
    """Where an arm's weights start: its own draw (``Arm.init``) or the workload's, transferred to every arm
    (``pipeline.runner``: the arms without their own init all start from ``Model.init``'s weights)."""
    return f"own: {ref_name(arm.init)}" if arm.init else f"transferred from {ref_name(workload.model.init)}"


def clipping(clipnorm, global_clipnorm, clipvalue) -> str:
    """A Keras optimizer's gradient clipping in the table's vocabulary: keras/src/optimizers/base_optimizer.py
    _clip_gradients :870-879 applies the first set of clipnorm (each variable's gradient to that L2 norm),
    global_clipnorm (all gradients together) and clipvalue (each element)."""
    if clipnorm and clipnorm > 0:
        return f"per variable norm {clipnorm:g}"
    if global_clipnorm and global_clipnorm > 0:
        return f"global norm {global_clipnorm:g}"
    if clipvalue and clipvalue > 0:
        return f"per element value {clipvalue:g}"
    return "none"


# Where each Keras optimizer adds epsilon (Keras 3 source): adam.py :117,135 alpha = lr*sqrt(1-b2^t)/(1-b1^t),
# m*alpha/(sqrt(v)+eps) (AdamW subclasses Adam); nadam.py :144 m_hat*lr/(sqrt(v_hat)+eps); adamax.py :127
# (u + eps); rmsprop.py :141-145 sqrt(v + eps), centered sqrt(v - m^2 + eps); no bias correction.
_EPS_PLACEMENT = {
    "Adam": "sqrt(v) + eps, before bias correction (epsilon-hat)",
    "AdamW": "sqrt(v) + eps, before bias correction (epsilon-hat)",
    "Nadam": "sqrt(v_hat) + eps, after bias correction",
    "Adamax": "max|g| + eps",
}
# get_config() keys read into other rows (clipping, weight decay), or that name nothing about the update
_OPT_CONSUMED = {
    "epsilon_placement",
    "coupled_weight_decay",
    "name",
    "clipnorm",
    "global_clipnorm",
    "clipvalue",
    "weight_decay",
    "is_legacy_optimizer",
}
# rows shown only where they are set, as the JAX and torch rows have no such setting: (key, default)
_OPT_ONLY_SET = {
    "amsgrad": False,
    "centered": False,
    "use_ema": False,
    "ema_momentum": None,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}
# layer get_config() keys that say how a layer computes (shown per layer, ``layer <name> <key>``)
_LAYER_KEYS = (
    "activation",
    "approximate",
    "negative_slope",
    "epsilon",
    "momentum",
    "center",
    "scale",
    "axis",
    "padding",
    "strides",
    "dilation_rate",
    "data_format",
    "use_bias",
    "rate",
    "recurrent_activation",
    "unit_forget_bias",
    "reset_after",
    "return_sequences",
    "go_backwards",
    "kernel_initializer",
)


def optimizer_rows(opt) -> dict:
    """Rows read from a Keras optimizer's whole ``get_config()``: every key is a row or folds into one."""
    cfg = opt.get_config()
    cls = type(opt).__name__
    rows: dict = {"optimizer": cls}
    for key, v in cfg.items():
        if key in _OPT_CONSUMED:
            continue
        if key in _OPT_ONLY_SET and (v == _OPT_ONLY_SET[key] or (key.startswith("ema_") and not cfg.get("use_ema"))):
            continue
        rows[f"optimizer.{key}"] = _jsonable(v)
    if "epsilon" in cfg:
        if keras_optimizers.EPSILON_PLACEMENT in cfg:  # arms.keras_optimizers' Adam: the placement it runs
            rows["optimizer.epsilon placement"] = cfg[keras_optimizers.EPSILON_PLACEMENT]
        elif cls in _EPS_PLACEMENT:
            rows["optimizer.epsilon placement"] = _EPS_PLACEMENT[cls]
        elif cls == "RMSprop":
            v = "v - m^2" if cfg.get("centered") else "v"
            rows["optimizer.epsilon placement"] = f"sqrt({v} + eps), no bias correction"
    if "beta_1" in cfg:  # Keras's Adam family has Nesterov momentum only in Nadam (nadam.py): said as optax's rows say
        rows.setdefault("optimizer.nesterov", cls == "Nadam")
    rows["gradient clipping"] = clipping(cfg.get("clipnorm"), cfg.get("global_clipnorm"), cfg.get("clipvalue"))
    wd = cfg.get("weight_decay")
    # base_optimizer.py _apply_weight_decay :952-959: variable - variable * wd * lr, before the update
    decays = [f"{wd:g} x w, decoupled (added to the update)"] if wd else []
    coupled = cfg.get(keras_optimizers.COUPLED_WEIGHT_DECAY)
    if coupled:  # arms.keras_optimizers' subclass: g + lam w handed to the class's own update
        decays.append(f"{coupled:g} x w, coupled (added to the gradient)")
    rows["weight decay"] = "; ".join(decays) or "none"
    return rows


def read_conventions(ka) -> dict:
    """Rows (name -> value) read from a built ``KerasArm``: loss, optimizer and layer configs."""
    keras = ka.keras
    rows: dict = {}
    loss = ka.model.loss
    lname = getattr(loss, "__name__", None) or type(loss).__name__
    lcfg = loss.get_config() if hasattr(loss, "get_config") else {}
    # a LossFunctionWrapper (Huber, CategoricalCrossentropy, ...) calls its function with _fn_kwargs
    # (keras/src/losses/losses.py:26,34); some get_config()s leave them out (Huber's, :352-353, drops delta)
    lcfg = {**lcfg, **_jsonable(dict(getattr(loss, "_fn_kwargs", None) or {}))}
    if not lcfg and callable(loss):  # a loss function: its keyword defaults are its settings (from_logits, ...)
        try:
            lcfg = {
                k: p.default
                for k, p in inspect.signature(loss).parameters.items()
                if p.default is not inspect.Parameter.empty
            }
        except (TypeError, ValueError):
            lcfg = {}
    rows["loss"] = f"keras.losses.{lname}" + (f" {_jsonable(lcfg)}" if lcfg else "")
    head = ka.model.layers[-1].get_config().get("activation")
    rows["loss input"] = f"{head} output (from_logits={lcfg.get('from_logits', False)})"
    rows.update(optimizer_rows(ka.model.optimizer))
    l2 = []
    for layer in ka.model.layers:
        lc = layer.get_config()
        for k in ("kernel_regularizer", "bias_regularizer"):
            if lc.get(k):
                reg = lc[k]
                l2.append(f"{layer.name}.{k.split('_')[0]}: {reg.get('class_name')}{_jsonable(reg.get('config'))}")
        if "padding" in lc:
            rows["padding"] = lc["padding"] if rows.get("padding") in (None, lc["padding"]) else "mixed"
        for key in _LAYER_KEYS:
            if key in lc:
                v = lc[key]
                v = v.get("class_name") if isinstance(v, dict) and "class_name" in v else _jsonable(v)
                rows[f"layer {layer.name} {key}"] = v
        # which GELU the activation computes: its config may not say (keras.ops.gelu, the tanh form, reads "gelu");
        # probed where it reads "gelu" or a function's serialized form, not one of Keras's other named activations
        act = lc.get("activation")
        gelu = (
            keras_activations.form(keras, vars(layer).get("activation"))
            if act == "gelu" or isinstance(act, dict)
            else None
        )
        if gelu is not None:
            rows[f"layer {layer.name} gelu"] = gelu
        policy = lc.get("dtype")
        if isinstance(policy, dict):  # a DTypePolicy's config: its name (float32, mixed_bfloat16)
            policy = (policy.get("config") or {}).get("name", policy.get("class_name"))
        if policy is not None:
            rows[f"layer {layer.name} dtype policy"] = str(policy)
    rows["L2 in the loss"] = "; ".join(l2) if l2 else "none"
    # compile()'s arguments as it resolved them (keras/src/trainers/trainer.py compile :200-221: jit_compile "auto"
    # becomes the backend's choice): how the step runs, shown but never compared (no other framework has them)
    m = ka.model
    rows["implementation: keras compile"] = ", ".join(
        f"{k}={getattr(m, k, None)}" for k in ("jit_compile", "run_eagerly", "steps_per_execution")
    )
    rows["initial weights"] = initial_weights(ka.workload, ka.arm)
    policy = keras.config.dtype_policy().name
    rows["dtype"] = keras.config.floatx() + ("" if policy == keras.config.floatx() else f" (policy {policy})")
    return rows


def batch_order(workload, arm, drawn_by: str) -> dict[str, str]:
    """The ``batch order`` row of a workload where some arm shuffles (``Arm.shuffle_seed``; none elsewhere, so other
    workloads' rows stay as they were): window order, or ``fit(shuffle=True)``'s order at the seed, ``drawn_by``."""
    if all(a.shuffle_seed is None for a in workload.arms):
        return {}
    if arm.shuffle_seed is None:
        return {"batch order": "window order every epoch (fit(shuffle=False))"}
    return {"batch order": f"fit(shuffle=True) order, seed {arm.shuffle_seed}, drawn by {drawn_by}"}


def conventions_rows(ka, backend: str, readback: dict) -> dict:
    """Every row ``conventions`` shows for a built Keras arm: its configs and its backend's numerics."""
    with flags.keras_without_tensorflow():  # the layers' get_config() would load it
        rows = read_conventions(ka)
    rows["matmul precision"] = _precision(backend, readback)
    det = [
        readback.get(k)
        for k in ("op_determinism", "xla_gpu_deterministic_ops", "deterministic_algorithms")
        if k in readback
    ]
    rows["determinism"] = "on" if det and all(str(d).lower() in ("true", "1") for d in det) else f"off {det}"
    rows["oneDNN"] = ("on" if readback.get("onednn_enabled") else "off") if backend == "tensorflow" else "n/a"
    rows["forward pass"] = f"{ref_name(ka.workload.model.keras_build)} {dict(ka.arm.keras_options) or ''}".strip()
    if ka.arm.keras_edits:  # shown where there are some (explain's switched arms, a declared edit)
        rows["keras edits"] = "; ".join(e.text() for e in ka.arm.keras_edits)
    if ka.arm.keras_step != "fit":  # shown where it is not the default, so fit's arms keep their rows as they were
        rows["training step"] = f"model.{ka.arm.keras_step}"
    rows.update(batch_order(ka.workload, ka.arm, f"the {backend} backend's generator"))
    return rows


def _precision(backend: str, readback: dict) -> str:
    """Matmul precision in one vocabulary across backends: "full float32" or what reduces it."""
    if backend == "tensorflow":
        return "TF32" if readback.get("tensor_float_32") else "full float32"
    if backend == "jax":
        p = str(readback.get("jax_default_matmul_precision"))
        return "full float32" if p in ("highest", "float32", "Precision.HIGHEST") else p
    p = readback.get("float32_matmul_precision", "highest")
    return "full float32" if p == "highest" and not readback.get("cuda_matmul_allow_tf32") else f"{p} (TF32)"
