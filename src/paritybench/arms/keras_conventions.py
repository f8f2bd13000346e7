"""A built Keras arm's conventions, read from its model and optimizer: the rows ``paritybench conventions``
shows, in the Keras worker that trained it (``keras_worker``) or in an inspection worker (``keras_inspect``).
Takes the live ``KerasArm``; imports no framework (the arm carries its ``keras`` module)."""

from __future__ import annotations


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def read_conventions(ka) -> dict:
    """Rows (name -> value) read from a built ``KerasArm``: loss, optimizer and layer configs."""
    keras = ka.keras
    rows: dict = {}
    loss = ka.model.loss
    lname = getattr(loss, "__name__", None) or type(loss).__name__
    lcfg = loss.get_config() if hasattr(loss, "get_config") else {}
    rows["loss"] = f"keras.losses.{lname}" + (f" {_jsonable(lcfg)}" if lcfg else "")
    head = ka.model.layers[-1].get_config().get("activation")
    rows["loss input"] = f"{head} output (from_logits={lcfg.get('from_logits', False)})"
    opt = ka.model.optimizer
    cfg = opt.get_config()
    rows["optimizer"] = type(opt).__name__
    for key, row in (
        ("learning_rate", "learning_rate"),
        ("epsilon", "epsilon"),
        ("beta_1", "beta_1"),
        ("beta_2", "beta_2"),
        ("momentum", "momentum"),
        ("nesterov", "nesterov"),
    ):
        if key in cfg:
            rows[f"optimizer.{row}"] = _jsonable(cfg[key])
    if "epsilon" in cfg and type(opt).__name__ in ("Adam", "AdamW", "Adamax", "Nadam"):
        # keras/src/optimizers/adam.py update_step: alpha = lr*sqrt(1-b2^t)/(1-b1^t); m*alpha/(sqrt(v)+eps)
        rows["optimizer.epsilon placement"] = "sqrt(v) + eps, before bias correction (epsilon-hat)"
    wd = cfg.get("weight_decay")
    rows["weight decay"] = f"decoupled {wd:g} (w -= lr*wd*w, optimizer)" if wd else "none"
    l2 = []
    for layer in ka.model.layers:
        lc = layer.get_config()
        for k in ("kernel_regularizer", "bias_regularizer"):
            if lc.get(k):
                reg = lc[k]
                l2.append(f"{layer.name}.{k.split('_')[0]}: {reg.get('class_name')}{_jsonable(reg.get('config'))}")
        if "padding" in lc:
            rows["padding"] = lc["padding"] if rows.get("padding") in (None, lc["padding"]) else "mixed"
        if "kernel_initializer" in lc:
            ki = lc["kernel_initializer"]
            rows[f"layer {layer.name} kernel_initializer"] = ki.get("class_name") if isinstance(ki, dict) else str(ki)
        if "data_format" in lc:
            rows[f"layer {layer.name} data_format"] = lc["data_format"]
    rows["L2 in the loss"] = "; ".join(l2) if l2 else "none"
    policy = keras.config.dtype_policy().name
    rows["dtype"] = keras.config.floatx() + ("" if policy == keras.config.floatx() else f" (policy {policy})")
    return rows


def conventions_rows(ka, backend: str, readback: dict) -> dict:
    """Every row ``conventions`` shows for a built Keras arm: its configs and its backend's numerics."""
    rows = read_conventions(ka)
    rows["matmul precision"] = _precision(backend, readback)
    det = [
        readback.get(k)
        for k in ("op_determinism", "xla_gpu_deterministic_ops", "deterministic_algorithms")
        if k in readback
    ]
    rows["determinism"] = "on" if det and all(str(d).lower() in ("true", "1") for d in det) else f"off {det}"
    rows["oneDNN"] = ("on" if readback.get("onednn_enabled") else "off") if backend == "tensorflow" else "n/a"
    rows["forward pass"] = f"{ka.workload.model.keras_build} {dict(ka.arm.keras_options) or ''}".strip()
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
