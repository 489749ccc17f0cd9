"""Perception: RGB-D camera to detected objects and people in the world frame."""
