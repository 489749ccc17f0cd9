"""Actuation: skill actions, IK, trajectories, safety supervisor."""
