"""World model: tracking, prediction, what-if simulation of plans."""
