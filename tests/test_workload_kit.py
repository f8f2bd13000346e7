"""Workloads are self-contained folders on a shared kit: none imports or references another, each keeps its
own evidence, and every ``"module:function"`` reference is checked when the workload loads (without loading
a framework), a bad one refused in one line naming the workload, the arm, the reference and the problem."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from paritybench.errors import ParityError
from paritybench.workloads import refs, registry

from .conftest import ROOT, run_cli

PKG = ROOT / "src" / "paritybench" / "workloads"
FOLDERS = sorted(p.name for p in PKG.iterdir() if (p / "__init__.py").is_file() and p.name != "kit")


def _names_of_workloads(path) -> list[str]:
    """Each ``paritybench.workloads.<folder>`` a file imports (anywhere, inside functions too) or spells in a
    string (a ``"module:function"`` reference is a dependency as much as an import is)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value.split(":")[0]]
        for n in names:
            parts = n.split(".")
            if parts[:2] == ["paritybench", "workloads"] and len(parts) > 2 and parts[2] in FOLDERS:
                out.append(parts[2])
    return out


def test_the_builtin_workloads_are_the_folders():
    assert sorted(spec.split(":")[0].rsplit(".", 1)[1] for spec in registry.BUILTIN.values()) == FOLDERS


def test_no_workload_imports_or_references_another():
    offenders = [
        f"{path.relative_to(PKG)} -> {other}"
        for folder in FOLDERS
        for path in (PKG / folder).rglob("*.py")
        for other in _names_of_workloads(path)
        if other != folder
    ]
    assert offenders == []


def test_the_kit_and_the_generic_modules_name_no_workload():
    generic = [*(PKG / "kit").glob("*.py"), *PKG.glob("*.py")]
    offenders = [
        f"{p.relative_to(PKG)} -> {w}" for p in generic if p.name != "registry.py" for w in _names_of_workloads(p)
    ]
    assert offenders == []  # registry.py's BUILTIN table is the one list of them
    spelt = [
        f"{p.relative_to(PKG)}: {n}"
        for p in generic
        if p.name != "registry.py"
        for n in registry.BUILTIN
        if n in p.read_text()
    ]
    assert spelt == []


def test_every_workload_is_built_on_the_kit():
    for folder in FOLDERS:
        imported = {
            n.module
            for p in (PKG / folder).rglob("*.py")
            for n in ast.walk(ast.parse(p.read_text()))
            if isinstance(n, ast.ImportFrom) and n.module
        }
        assert any(m.startswith("paritybench.workloads.kit") for m in imported), folder


def test_evidence_lives_beside_each_workload_and_sets_its_classes():
    assert not (PKG / "evidence.py").exists()  # no central table keyed by workload names
    for name, spec in registry.BUILTIN.items():
        package = spec.split(":")[0]
        table = importlib.import_module(f"{package}.evidence").MEASURED
        w = registry.load(name)
        assert set(table) <= set(w.arm_names), name
        for arm, (cls, ev) in table.items():
            assert (w.arm(arm).expected, w.arm(arm).evidence) == (cls, ev), (name, arm)
    assert registry.load("softmax-ce").arm("jax-keras-clip").expected == "chaotic"


def test_evidence_for_an_undeclared_arm_is_refused():
    from paritybench.workloads.kit.arms import with_evidence

    arms = registry.load("seed-bce").arms
    with pytest.raises(ValueError, match="jax-renamed"):
        with_evidence(arms, {"jax-renamed": ("stable", "0.909")})


def test_every_reference_of_every_workload_names_something_real():
    for name in registry.BUILTIN:
        w = registry.load(name)
        for decl in (w.model, *w.arms):
            for field in refs.ref_fields(type(decl)):
                assert refs.problem(getattr(decl, field)) is None, (name, field)


def test_loading_every_workload_checks_its_references_without_a_framework():
    code = textwrap.dedent("""
        import sys
        from paritybench.workloads import registry, refs
        for name in registry.BUILTIN:
            registry.load(name)
        checked = refs._module_names.cache_info().currsize
        print(checked, sorted(m for m in ("jax", "optax", "tensorflow", "torch", "keras") if m in sys.modules))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    checked, frameworks = proc.stdout.strip().split(" ", 1)
    assert int(checked) >= 30 and frameworks == "[]"  # the framework modules were read, not imported


_BAD = """
from dataclasses import replace
from paritybench.workloads.seed_bce.workload import WORKLOAD as _W
_ARMS = tuple(replace(a, loss_fn={ref!r}) if a.name == "jax-logits" else a for a in _W.arms)
WORKLOAD = replace(_W, name="bad-ref", arms=_ARMS)
"""


@pytest.mark.parametrize(
    "ref,problem",
    [
        (
            "paritybench.workloads.seed_bce.jax_model:logit",
            "names logit, which paritybench.workloads.seed_bce.jax_model",
        ),
        ("paritybench.workloads.seed_bce.no_such_module:logits", "names module paritybench.workloads.seed_bce.no_such"),
        ("paritybench.workloads.seed_bce.jax_model.logits", "is not 'package.module:function'"),
        (5, "is a int: give a callable or 'package.module:function'"),  # its type: judged in the same pass
    ],
)
def test_a_bad_reference_is_refused_at_load_naming_workload_arm_and_reference(tmp_path, ref, problem):
    f = tmp_path / "bad.py"
    f.write_text(_BAD.format(ref=ref))
    with pytest.raises(ParityError) as info:
        registry.load(str(f))
    msg = str(info.value)
    assert msg.startswith(f"workload 'bad-ref' ({f}): arm jax-logits: loss_fn {ref!r} ") and problem in msg, msg
    assert "\n" not in msg


def test_a_bad_reference_stops_the_run_before_training(tmp_path):
    f = tmp_path / "bad.py"
    f.write_text(_BAD.format(ref="paritybench.workloads.seed_bce.jax_model:logit"))
    out = tmp_path / "a.json"
    proc = run_cli("run", "--workload", str(f), "--arms", "jax-naive", "--out", str(out))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and "arm jax-logits: loss_fn" in proc.stderr and "logit" in proc.stderr
    assert not out.exists()


def test_a_re_exported_name_is_followed_to_its_source(tmp_path, monkeypatch):
    pkg = tmp_path / "userpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "impl.py").write_text("import torch  # never imported by the check\n\ndef loss(z, y):\n    return z\n")
    (pkg / "api.py").write_text("from userpkg.impl import loss, los\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert refs.problem("userpkg.impl:loss") is None and refs.problem("userpkg.api:loss") is None
    assert "which userpkg.api imports from userpkg.impl, but that names los" in refs.problem("userpkg.api:los")
    assert "userpkg.impl" not in sys.modules and "userpkg.api" not in sys.modules


def test_a_folder_spells_its_references_and_binds_the_arm_constructors():
    from paritybench.workloads.kit.folder import Folder

    f = Folder("pkg.wl")
    assert (f.jax("apply"), f.keras("loss"), f.torch("apply"), f.ref("f64", "forward")) == (
        "pkg.wl.jax_model:apply",
        "pkg.wl.keras_model:loss",
        "pkg.wl.torch_model:apply",
        "pkg.wl.f64:forward",
    )
    fix, clip, torch_clip = f.bce_fix("same", "SAME", "the fix", {"padding": "SAME"})
    assert (fix.name, fix.role, fix.emulates, fix.loss_fn) == ("jax-same", "fix", "keras-tensorflow", f.jax("logits"))
    assert [(a.name, a.emulates) for a in (clip, torch_clip)] == [
        ("jax-same-keras-clip", "keras-jax"),
        ("jax-same-keras-torch-clip", "keras-torch"),
    ]
    assert f.fix("jax-b", "another fix", "logits", {}, emulates=None).emulates is None
    ce = f.ce_fix_emulations("jax-l2", {"decay": "2*lam*w"}, ("clipped", "clamped"), optimizer="sgd_l2")
    assert [(a.name, a.emulates, a.optimizer, dict(a.conventions)) for a in ce] == [
        ("jax-l2-clip", "keras-jax", f.jax("sgd_l2"), {"decay": "2*lam*w", "loss path": "clipped"}),
        ("jax-l2-torch-clip", "keras-torch", f.jax("sgd_l2"), {"decay": "2*lam*w", "loss path": "clamped"}),
    ]
    keras = f.keras_arms(tensorflow="t", jax="j", torch="p", keras_options={"l2": 0.01})
    assert [(a.name, a.keras_loss, dict(a.keras_options)) for a in keras] == [
        (f"keras-{b}", f.keras("loss"), {"l2": 0.01}) for b in ("tensorflow", "jax", "torch")
    ]
    torch = f.torch_port("torch-x", "a torch port", "bce_logits", {"loss path": "from logits"}, matches="jax-x")
    assert (torch.role, torch.torch_loss, torch.matches) == ("port", f.torch("bce_logits"), "jax-x")


def test_a_folder_reference_is_float64_and_keeps_the_declared_order():
    from paritybench.workloads.kit.folder import Folder

    ref = Folder("pkg.wl").reference("float64 truth", {"loss path": "from logits"}, loss="reshaped")
    assert (ref.name, ref.kind, ref.role, ref.loss_fn) == (
        "reference-f64",
        "f64",
        "reference",
        "pkg.wl.jax_model:reshaped",
    )
    assert list(ref.conventions.items()) == [("loss path", "from logits"), ("dtype", "float64")]
    placed = Folder("pkg.wl").reference("t", {"dtype": "float64", "labels": "(n, 1)"}).conventions
    assert list(placed) == ["dtype", "labels"]  # a "dtype" already placed keeps its place


def test_a_folder_model_shows_an_mlp_first_layer_only_when_asked():
    from paritybench.workloads.kit.folder import Folder
    from paritybench.workloads.kit.mlp import dense_params

    f = Folder("pkg.wl")
    plain = f.model(dense_params((4, 3, 1)), "sigmoid")
    shown = f.model(dense_params((4, 3, 1)), "sigmoid", "tanh", torch_apply=f.torch("apply"))
    assert (plain.jax_layers, dict(plain.keras_layers), plain.init) == (None, {}, f.jax("init"))
    assert (shown.jax_layers, dict(shown.keras_layers), shown.torch_apply) == (
        f.jax("layers"),
        {"dense_0/tanh": 0},
        f.torch("apply"),
    )


def test_the_declaration_dump_sees_a_changed_arm(tmp_path):
    """tools/workload_decls.py is how a refactor of the declarations shows it changed nothing: its dump covers
    every built-in workload, and a dump differing in one arm's field is reported, naming the workload."""
    import json

    from tools import workload_decls

    dump = workload_decls.dump()
    assert list(dump) == list(registry.BUILTIN)
    assert [a["name"] for a in dump["seed-bce"]["declaration"]["arms"]] == list(registry.load("seed-bce").arm_names)
    same, edited = tmp_path / "same.json", tmp_path / "edited.json"
    same.write_text(json.dumps(dump))
    dump["softmax-ce"]["declaration"]["arms"][0]["role"] = "fix"
    edited.write_text(json.dumps(dump))
    assert workload_decls.main(["--against", str(same)]) == 0
    assert workload_decls.main(["--against", str(edited)]) == 1


def test_a_folder_arm_names_its_forward_variant_and_the_ce_keras_arms_their_defaults():
    from paritybench.workloads.kit.folder import Folder

    f = Folder("pkg.wl")
    port = f.port("jax-x", "a port", "logits", {}, forward="chw")
    torch = f.torch_port("torch-x", "a torch port", "bce_logits", {}, forward="pad1")
    plain = f.jax_arm("jax-y", "plain", "logits")
    assert (port.jax_apply, port.jax_layers, torch.torch_apply, torch.torch_layers) == (
        f.jax("apply_chw"),
        f.jax("layers_chw"),
        f.torch("apply_pad1"),
        f.torch("layers_pad1"),
    )
    assert (plain.jax_apply, plain.jax_layers) == (None, None)
    with pytest.raises(ValueError, match="jax_apply both given"):
        f.jax_arm("jax-z", "twice", "logits", forward="chw", jax_apply=f.jax("apply"))
    spelled = f.keras_arms(
        tensorflow="CE from the cached logits",
        jax="CE on clipped probabilities",
        torch="CE on clamped probabilities",
        setting=", Adam(epsilon=1e-07)",
    )
    assert f.ce_keras_arms(", Adam(epsilon=1e-07)") == spelled
    assert f.ce_keras_arms(", s", torch="other")[2].description != f.ce_keras_arms(", s")[2].description


def test_a_folder_says_a_ce_fix_a_batchnorm_side_and_a_conv_model_once():
    from paritybench.workloads.kit import conv
    from paritybench.workloads.kit.arms import CE_RENORMALISED, JAX, JAX_OPTAX
    from paritybench.workloads.kit.folder import Folder

    f = Folder("pkg.wl")
    fix, clip, torch_clip = f.ce_fix(
        "jax-f", "the fix", "weighted", {"a": "b"}, loss_paths=CE_RENORMALISED, emulation_requires=JAX, optimizer="sgd"
    )
    assert (fix.name, fix.role, fix.loss_fn, fix.optimizer, fix.requires) == (
        "jax-f",
        "fix",
        f.jax("weighted"),
        f.jax("sgd"),
        JAX_OPTAX,
    )
    assert dict(fix.conventions) == {"a": "b", "loss path": "from logits (Keras-TF takes the cached logits)"}
    assert [(a.name, a.emulates, a.optimizer, a.requires, a.conventions["loss path"]) for a in (clip, torch_clip)] == [
        ("jax-f-clip", "keras-jax", f.jax("sgd"), JAX, CE_RENORMALISED[0]),
        ("jax-f-torch-clip", "keras-torch", f.jax("sgd"), JAX, CE_RENORMALISED[1]),
    ]
    bn = (*f.keras_bn_fix("the fix", {"eps": 1e-3}), *f.keras_bn_arms({"eps": 1e-3}))
    assert [a.name for a in bn] == [
        "jax-keras-bn",
        "jax-keras-bn-clip",
        "jax-keras-bn-torch-clip",
        "keras-tensorflow",
        "keras-jax",
        "keras-torch",
        "reference-f64",
    ]
    assert {a.jax_apply for a in bn if a.kind in ("jax", "f64")} == {f.jax("apply")}
    assert bn[3].description != bn[5].description  # each backend's own loss path
    m = f.conv_model(conv.conv_dense_params(3, 4, 16), {"conv/relu": 1}, "apply_same")
    assert (m.head, m.jax_layers, dict(m.keras_layers), m.torch_apply, m.torch_layers) == (
        "sigmoid",
        f.jax("layers"),
        {"conv/relu": 1},
        f.torch("apply_same"),
        f.torch("layers"),
    )
    assert (conv.DATA.labels, conv.DATA.normalize, conv.TRAINING.lr) == ("binary", True, 0.5)


def test_glorot_fans_are_keras_compute_fans_for_a_dense_and_a_conv_kernel():
    from paritybench.workloads.kit.init import fans, glorot_uniform

    assert fans((784, 64)) == (784, 64)
    assert fans((3, 3, 1, 4)) == (9, 36)  # kh * kw * in, kh * kw * out
    w = glorot_uniform({"conv/kernel": (3, 3, 1, 4), "conv/bias": (4,)}, 0)
    assert np.abs(w["conv/kernel"]).max() <= np.sqrt(6.0 / 45) and not w["conv/bias"].any()


def test_a_folder_init_is_glorot_uniform_of_its_parameters_whatever_the_threefry_flag():
    from paritybench.workloads.kit.init import glorot_uniform, keras_init
    from paritybench.workloads.kit.mlp import bn_params

    params = bn_params(6, 4, 3)
    init = keras_init(params)
    for seed in (0, 7):
        want = glorot_uniform(params, seed)
        for got in (init(seed), init(seed, True)):
            assert list(got) == list(params) and all(np.array_equal(got[k], want[k]) for k in want)
    assert not np.array_equal(init(0)["dense_0/kernel"], init(1)["dense_0/kernel"])
    assert np.array_equal(init(0)["bn/gamma"], np.ones(4, np.float32))


def test_a_hidden_variant_is_the_one_hidden_layer_mlp_with_its_activation_on_any_arrays():
    from paritybench.workloads.kit.mlp import hidden_variant

    rng = np.random.default_rng(0)
    p = {"dense_0/kernel": rng.normal(size=(3, 4)), "dense_0/bias": rng.normal(size=4)}
    p |= {"dense_1/kernel": rng.normal(size=(4, 2)), "dense_1/bias": rng.normal(size=2)}
    x = rng.normal(size=(5, 3))
    apply, layers = hidden_variant(np.tanh, "tanh")
    pre = x @ p["dense_0/kernel"] + p["dense_0/bias"]
    assert list(layers(p, x)) == ["dense_0", "dense_0/tanh"]
    np.testing.assert_array_equal(layers(p, x)["dense_0/tanh"], np.tanh(pre))
    np.testing.assert_array_equal(apply(p, x), np.tanh(pre) @ p["dense_1/kernel"] + p["dense_1/bias"])
    assert not np.array_equal(hidden_variant(np.sin, "tanh")[0](p, x), apply(p, x))
