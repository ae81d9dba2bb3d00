"""Daily drift of the production output (answer length, refusals, grounding, judge scores) and prompt diversity."""
