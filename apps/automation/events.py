"""Live events of the automation app: a run's counts changed (sent on commit to `org.<id>.pipelines`).

The message names the run and its status only; the run monitor re-reads the run's counts through the API, so a
page never learns more than its reader may fetch.
"""

from apps.core.events import broadcast_on_commit

TOPIC = "pipelines"


def broadcast_run(run) -> None:
    broadcast_on_commit(org=run.organization_id, topic=TOPIC, event="pipeline_run.changed",
                        data={"run_id": run.pk, "pipeline_id": run.pipeline_id, "status": run.status})
