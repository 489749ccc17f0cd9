"""MuJoCo simulation of the foresight scenarios: robot, scene, sensors, ground truth."""
