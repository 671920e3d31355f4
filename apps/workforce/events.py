"""Live events of the workforce app (topic "tasks"): pages re-read what changed when one arrives."""

from apps.core.events import broadcast_on_commit


def unit_changed(unit, *, event: str = "unit.changed") -> None:
    broadcast_on_commit(org=unit.organization_id, topic="tasks", event=event,
                        data={"task_id": unit.task_id, "unit_id": unit.pk, "stage": unit.stage, "state": unit.state,
                              "assignee_id": unit.assignee_id})


def task_changed(task, *, event: str = "task.changed") -> None:
    broadcast_on_commit(org=task.organization_id, topic="tasks", event=event,
                        data={"task_id": task.pk, "status": task.status})
