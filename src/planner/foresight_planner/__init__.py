"""Decision: task input, skill planning, world-model-driven choices, recovery."""
