"""The demo organisation's task: the sample photographs for its annotator, half of the work reviewed."""

from apps.recipes.selectors import dataset_recipe_version

from .models import Task
from .services import task_create

DEMO_TASK = "Label the sample photographs"


def demo_task_seed(*, org, actor, dataset, annotators, reviewers) -> tuple[Task | None, bool]:
    task = Task.objects.for_org(org).filter(name=DEMO_TASK).first()
    if task is not None:
        return task, False
    version = dataset_recipe_version(org=org, dataset=dataset)
    if version is None:
        return None, False
    members = [{"user_id": u.pk, "role": "annotator"} for u in annotators]
    members += [{"user_id": u.pk, "role": "reviewer"} for u in reviewers]
    return task_create(org=org, actor=actor, dataset=dataset, recipe_version=version, name=DEMO_TASK,
                       review_ratio=0.5, members=members), True
