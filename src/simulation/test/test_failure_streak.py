"""The simulation goes on through a short streak of failed publishes and gives up on a
lasting one (FailureStreak)."""

from foresight_simulation.runtime import FailureStreak


def test_a_short_streak_is_tolerated_and_a_lasting_one_is_not():
    streak = FailureStreak(limit_s=2.0)
    assert not streak.failed(10.0) and not streak.failed(11.9)
    streak.ok()                                     # a publish went through: streak over
    assert not streak.failed(12.5) and not streak.failed(14.4)
    assert streak.failed(14.5)                      # 2 s of failures in a row
    assert streak.count == 5
