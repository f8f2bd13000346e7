"""init-defaults's evidence: arm -> (expected class, the measurement). The question is about distributions
over seeds (``paritybench sweep``), so no arm carries a one-ulp sensitivity measurement; only the
reference's float64 is stated."""

from __future__ import annotations

from paritybench.workloads.kit.evidence import F64

MEASURED = {"reference-f64": ("stable", F64)}
