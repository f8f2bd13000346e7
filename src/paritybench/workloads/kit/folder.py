"""A built-in workload's folder: its module paths written once, and the arm constructors bound to them.

A built-in workload is a folder (as AlgoPerf's are): ``workload.py`` (the declaration), ``evidence.py``
(``MEASURED``), ``jax_model`` (``init``, ``apply``, the per-sample losses and optax optimizers),
``keras_model`` (``build``, ``loss`` and the Keras optimizers) and, where it has torch arms,
``torch_model``. ``Folder(package)`` spells the ``"module:function"`` references into them, so that a
declaration names a function and says only what differs from the other workloads; everything here
returns the plain ``Arm``, ``Model`` and ``Workload`` of ``workloads.base``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from paritybench.workloads.base import Arm, Data, Model, Training, Workload
from paritybench.workloads.kit import arms as kit

# What ``Folder.ce_fix_emulations`` says of its two arms unless told (Keras-JAX's, then Keras-torch's CE).
CE_EMULATIONS = (
    "Keras-JAX's update: the fix with CE on clipped probabilities",
    "Keras-torch's update: the fix with CE on clamped probabilities",
)


@dataclass(frozen=True)
class Folder:
    """The folder of the workload package ``package`` (a dotted module path)."""

    package: str

    def ref(self, module: str, name: str) -> str:
        """``"<package>.<module>:<name>"``: the reference to ``name`` in the folder's ``module``."""
        return f"{self.package}.{module}:{name}"

    def jax(self, name: str) -> str:
        """``name`` in ``jax_model``."""
        return self.ref("jax_model", name)

    def keras(self, name: str) -> str:
        """``name`` in ``keras_model``."""
        return self.ref("keras_model", name)

    def torch(self, name: str) -> str:
        """``name`` in ``torch_model``."""
        return self.ref("torch_model", name)

    def forward(self, framework: str, variant: str | None) -> dict[str, Any]:
        """An arm's own forward pass and layer outputs, ``<framework>_apply`` and ``<framework>_layers``: the
        folder's ``apply_<variant>`` and ``layers_<variant>`` in ``<framework>_model`` (None: none, the model's)."""
        if variant is None:
            return {}
        return {f"{framework}_{fn}": self.ref(f"{framework}_model", f"{fn}_{variant}") for fn in ("apply", "layers")}

    def _with_forward(self, framework: str, variant: str | None, kw: dict[str, Any]) -> dict[str, Any]:
        spelled = self.forward(framework, variant)
        if both := sorted(spelled.keys() & kw.keys()):
            raise ValueError(f"forward={variant!r} and {', '.join(both)} both given: name the forward pass once")
        return {**spelled, **kw}

    def jax_arm(self, name: str, description: str, loss: str, *, forward: str | None = None, **kw: Any) -> Arm:
        """``kit.arms.jax_arm`` on ``jax_model``: its per-sample loss ``jax_model:<loss>`` (and ``optimizer``);
        ``forward``: its variant of the forward pass (``self.forward``)."""
        kw = self._with_forward("jax", forward, kw)
        return kit.jax_arm(name, description, loss, f"{self.package}.jax_model", **kw)

    def torch_arm(self, name: str, description: str, loss: str, *, forward: str | None = None, **kw: Any) -> Arm:
        """``kit.arms.torch_arm`` on ``torch_model``: its mean loss ``torch_model:<loss>`` (and ``optimizer``);
        ``forward``: its variant of the forward pass (``self.forward``)."""
        kw = self._with_forward("torch", forward, kw)
        return kit.torch_arm(name, description, loss, f"{self.package}.torch_model", **kw)

    def port(self, name: str, description: str, loss: str, conventions: Mapping[str, Any], **kw: Any) -> Arm:
        """A JAX port as a user writes it (``role="port"``), with its declared ``conventions``."""
        return self.jax_arm(name, description, loss, role="port", conventions=conventions, **kw)

    def fix(
        self,
        name: str,
        description: str,
        loss: str,
        conventions: Mapping[str, Any],
        *,
        emulates: str | None = "keras-tensorflow",
        **kw: Any,
    ) -> Arm:
        """A JAX fix (``role="fix"``): by default the one that trains as Keras's TensorFlow backend does, the arm
        it ``emulates`` (None: a fix that emulates no Keras arm)."""
        return self.jax_arm(name, description, loss, role="fix", emulates=emulates, conventions=conventions, **kw)

    def bce_fix(self, stem: str, setting: str, description: str, conventions: Mapping[str, Any]) -> tuple[Arm, ...]:
        """A sigmoid BCE workload's fix ``jax-<stem>`` (BCE from logits at its ``setting``, as ``fix``) and its two
        Keras emulations at the same setting (``bce_keras_emulations``), in that order."""
        return (
            self.fix(f"jax-{stem}", description, "logits", conventions),
            *self.bce_keras_emulations(stem, setting, conventions),
        )

    def ce_fix_emulations(
        self,
        fix: str,
        conventions: Mapping[str, Any],
        loss_paths: tuple[str, str] = kit.CE_CLIPPED,
        descriptions: tuple[str, str] = CE_EMULATIONS,
        **kw: Any,
    ) -> tuple[Arm, ...]:
        """The JAX arm ``fix``'s update with Keras-JAX's and Keras-torch's categorical CE on clipped probabilities
        (``keras_emulations``): ``<fix>-clip`` and ``<fix>-torch-clip``, each declaring ``conventions`` with its
        ``"loss path"`` from ``loss_paths`` (JAX's, torch's: ``kit.arms.CE_CLIPPED`` or ``CE_RENORMALISED``);
        ``kw`` (the fix's optimizer, forward pass) goes to both."""
        (jax_path, torch_path), (jax_text, torch_text) = loss_paths, descriptions
        return self.keras_emulations(
            (f"{fix}-clip", jax_text, {**conventions, "loss path": jax_path}),
            (f"{fix}-torch-clip", torch_text, {**conventions, "loss path": torch_path}),
            **kw,
        )

    def ce_fix(
        self,
        name: str,
        description: str,
        loss: str,
        conventions: Mapping[str, Any],
        *,
        loss_paths: tuple[str, str] = kit.CE_CLIPPED,
        descriptions: tuple[str, str] = CE_EMULATIONS,
        emulation_requires: tuple[str, ...] = kit.JAX_OPTAX,
        **kw: Any,
    ) -> tuple[Arm, ...]:
        """A softmax classifier's fix ``name`` (``fix``: CE ``jax_model:<loss>`` from the logits, as Keras-TF takes
        them) followed by its two Keras emulations (``ce_fix_emulations``: ``loss_paths``, ``descriptions``,
        ``emulation_requires``); ``kw`` (an optimizer, a forward pass) goes to all three."""
        cached = {**conventions, "loss path": "from logits (Keras-TF takes the cached logits)"}
        return (
            self.fix(name, description, loss, cached, **kw),
            *self.ce_fix_emulations(name, conventions, loss_paths, descriptions, requires=emulation_requires, **kw),
        )

    def keras_bn_fix(self, description: str, conventions: Mapping[str, Any]) -> tuple[Arm, ...]:
        """A BatchNormalization MLP's fix ``jax-keras-bn`` (Keras's convention ``conventions``, CE from logits) and
        its two Keras emulations (``ce_fix_emulations``), all on the model's own forward pass ``jax_model:apply``
        (an arm that names its ``jax_apply`` keeps it however the model's changes)."""
        apply = self.jax("apply")
        return (
            self.fix(
                "jax-keras-bn", description, "logits", {**conventions, "loss path": "from logits"}, jax_apply=apply
            ),
            *self.ce_fix_emulations("jax-keras-bn", conventions, jax_apply=apply, requires=kit.JAX),
        )

    def keras_bn_arms(self, conventions: Mapping[str, Any]) -> tuple[Arm, ...]:
        """A BatchNormalization MLP's three Keras arms, ``BatchNormalization()`` at its defaults (``ce_keras_arms``),
        and the float64 reference at Keras's convention ``conventions`` on ``jax_model:apply``."""
        return (
            *self.ce_keras_arms(
                ", BatchNormalization() defaults",
                tensorflow="CE from the logits its softmax output caches",
                torch="CE on clipped probabilities, torch's gradient",
                conventions=conventions,
            ),
            self.reference(
                "float64, Keras's BatchNormalization convention, CE from logits: the ground truth",
                conventions,
                jax_apply=self.jax("apply"),
            ),
        )

    def torch_port(self, name: str, description: str, loss: str, conventions: Mapping[str, Any], **kw: Any) -> Arm:
        """A native torch port (``role="port"``)."""
        return self.torch_arm(name, description, loss, role="port", conventions=conventions, **kw)

    def torch_fix(self, name: str, description: str, loss: str, conventions: Mapping[str, Any], **kw: Any) -> Arm:
        """A native torch fix (``role="fix"``)."""
        return self.torch_arm(name, description, loss, role="fix", conventions=conventions, **kw)

    def keras_arm(self, backend: str, why: str, **kw: Any) -> Arm:
        """``kit.arms.keras_arm`` with the folder's Keras loss, ``keras_model:loss``."""
        return kit.keras_arm(backend, why, self.keras("loss"), **kw)

    def keras_arms(self, tensorflow: str, jax: str, torch: str, **kw: Any) -> tuple[Arm, ...]:
        """The three Keras backends' arms of the folder's Keras loss (``keras-tensorflow``, ``keras-jax``,
        ``keras-torch``, in that order), each backend given as why it trains as it does; ``kw`` goes to all."""
        why = {"tensorflow": tensorflow, "jax": jax, "torch": torch}
        return kit.keras_arms(self.keras("loss"), why, **kw)

    def ce_keras_arms(
        self,
        setting: str,
        *,
        tensorflow: str = "CE from the cached logits",
        jax: str = "CE on clipped probabilities",
        torch: str = "CE on clamped probabilities",
        **kw: Any,
    ) -> tuple[Arm, ...]:
        """``keras_arms`` of a softmax classifier's categorical CE at the workload's ``setting`` (what its Keras
        model sets, as the arm's description shows it): each backend's loss path as a Keras user meets it."""
        return self.keras_arms(tensorflow=tensorflow, jax=jax, torch=torch, setting=setting, **kw)

    def keras_emulations(
        self, clip: tuple[str, str, Mapping[str, Any]], torch_clip: tuple[str, str, Mapping[str, Any]], **kw: Any
    ) -> tuple[Arm, ...]:
        """``kit.arms.keras_emulations`` on ``jax_model`` (its ``keras_clip`` and ``keras_torch_clip`` losses)."""
        return kit.keras_emulations(f"{self.package}.jax_model", clip, torch_clip, **kw)

    def bce_keras_emulations(self, stem: str, setting: str, conventions: Mapping[str, Any]) -> tuple[Arm, ...]:
        """``kit.arms.bce_keras_emulations`` on ``jax_model``."""
        return kit.bce_keras_emulations(stem, setting, f"{self.package}.jax_model", conventions)

    def reference(self, description: str, conventions: Mapping[str, Any], loss: str = "logits", **kw: Any) -> Arm:
        """``kit.arms.reference_f64`` differentiating ``jax_model:<loss>``; its conventions are ``conventions``
        followed by ``"dtype": "float64"`` (kept where ``conventions`` already places it)."""
        return kit.reference_f64(description, self.jax(loss), conventions={**conventions, "dtype": "float64"}, **kw)

    def model(
        self, params: Mapping[str, tuple[int, ...]], head: str, hidden: str | None = None, **fields: Any
    ) -> Model:
        """``kit.arms.folder_model`` of this folder: ``init`` and ``jax_apply`` from ``jax_model``, ``keras_build``
        from ``keras_model``; ``fields`` add to or replace them. ``hidden``: an MLP's first activation (``"relu"``,
        ``"tanh"``) where the folder shows its output, ``jax_model:layers`` naming it ``dense_0/<hidden>``, the
        output of the Keras model's layer 0 (a Dense with that activation)."""
        if hidden is not None:
            fields = {"jax_layers": self.jax("layers"), "keras_layers": {f"dense_0/{hidden}": 0}, **fields}
        return kit.folder_model(self.package, params, head, **fields)

    def conv_model(
        self, params: Mapping[str, tuple[int, ...]], keras_layers: Mapping[str, int], torch_apply: str
    ) -> Model:
        """The one-convolution classifier's ``Model`` (``kit.conv``): a sigmoid head, its layer outputs named by
        ``jax_model:layers`` and ``torch_model:layers`` (``keras_layers``: each name's Keras layer index), and
        ``torch_model:<torch_apply>``, the torch forward pass the TensorFlow model is."""
        return self.model(
            params,
            "sigmoid",
            jax_layers=self.jax("layers"),
            keras_layers=dict(keras_layers),
            torch_apply=self.torch(torch_apply),
            torch_layers=self.torch("layers"),
        )

    def workload(
        self,
        *,
        name: str,
        question: str,
        sources: tuple[str, ...],
        data: Data,
        training: Training,
        model: Model,
        arms: tuple[Arm, ...],
        measured: Mapping[str, tuple[str, str]],
        fix: str,
        version: str = "1",
    ) -> Workload:
        """The ``Workload``, its arms carrying the folder's ``evidence.MEASURED`` (``kit.arms.with_evidence``);
        ``version`` is every built-in's first, "1", unless given."""
        return Workload(
            name=name,
            version=version,
            question=question,
            sources=sources,
            data=data,
            training=training,
            model=model,
            arms=kit.with_evidence(arms, measured),
            fix=fix,
        )
