"""Reading artifacts and records: compare (verdicts and tolerances), diagnostics, summaries, the report."""
