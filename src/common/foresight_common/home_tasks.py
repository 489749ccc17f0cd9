"""The home-care tasks (DESIGN section 6): the texts a user gives, what each is about (which
object, to which surface or to the person). Shared by the planner (reading a task) and the
episode judge (grading it); no rclpy here."""

from __future__ import annotations

from dataclasses import dataclass

#: The target of a hand-over task.
PERSON = "person"
#: The contact category the simulation reports (in place of "person") when only the hand
#: and forearm stretched out for a hand-over touch the robot: the hand-over's own touch,
#: which the judge counts as a collision only outside its hand-over window.
HANDOVER_TOUCH = "person_hand_over"


@dataclass(frozen=True)
class HomeTask:
    text: str
    object: str                      # the room's object name
    target: str                      # a surface name (room layout) or PERSON
    start_surface: str               # where the object is in the nominal room

    @property
    def is_handover(self) -> bool:
        return self.target == PERSON


HOME_TASKS: tuple[HomeTask, ...] = (
    HomeTask("bring the cup to the person", "cup", PERSON, "table"),
    HomeTask("put the medicine box on the bedside table", "medicine_box", "bedside_table",
             "table"),
    HomeTask("fetch the remote from the shelf and put it on the table", "remote", "table",
             "shelf/1"),
)


def _words(text: str) -> str:
    return " ".join(text.lower().replace(",", " ").replace(".", " ").split())


def find_home_task(text: str) -> HomeTask | None:
    """The task a text names (case, punctuation and spacing aside), else None."""
    wanted = _words(text)
    return next((t for t in HOME_TASKS if _words(t.text) == wanted), None)
