"""Live events of the quality app (topic "tasks", like the workforce's): a threshold acted on someone."""

from apps.core.events import broadcast_on_commit


def threshold_acted(action) -> None:
    broadcast_on_commit(org=action.organization_id, topic="tasks", event=f"quality.{action.action}",
                        data={"task_id": action.task_id, "user_id": action.user_id, "action": action.action,
                              "score": action.score, "samples": action.samples,
                              "threshold_id": action.threshold_id})
