"""Reading artifacts: compare (verdicts and tolerances), summaries, the report."""
