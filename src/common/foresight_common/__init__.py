"""Contract (names, types, QoS), conversions, parameters, robot model, TF of the foresight stack."""
