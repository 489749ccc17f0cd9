"""Contract (names, types, QoS), conversions, parameters, robot model and TF of foresight."""
