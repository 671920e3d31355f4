"""The config checks of the pipeline node types with more than a setting or two: route (active learning) and
dataset_version, and the model-version check predict shares with route. pipelines.NODE_TYPES names them; each
records its problems in `errors` keyed by their path in the graph and returns the config cleaned. unknown_keys is
the one rule every node type's check applies to settings it does not have."""

from apps.tenancy.permissions import has_scope

from .models import ModelVersion


def unknown_keys(config: dict, allowed: set[str], path: str, errors: dict) -> None:
    """Records each key of `config` that is not in `allowed` as an error at its path."""
    for key in sorted(set(config) - allowed):
        errors[f"{path}.{key}"] = "Unknown setting for this node type."


def _model_version(config: dict, key: str, *, org, actor, path: str, errors: dict) -> int | None:
    """A ready model version of the organisation the actor may use, that writes annotations (its id)."""
    from .pipelines import _positive_int
    from .runtime import parse_decoder
    from .runtime.spec import annotation_type

    pk = _positive_int(config.get(key))
    version = (ModelVersion.objects.for_org(org).select_related("model").filter(pk=pk).first() if pk else None)
    if version is None or not has_scope(org=org, actor=actor, scope="model.manage", obj=version.model):
        errors[f"{path}.{key}"] = f"No such model version: {config.get(key)!r}."
    elif version.status != ModelVersion.Status.READY:
        errors[f"{path}.{key}"] = "This model version is not ready."
    elif annotation_type(parse_decoder(version.decoder)) is None:
        errors[f"{path}.{key}"] = "An embedding model writes no annotations to predict with."
    return pk


def check_route(config, *, org, actor, dataset, path, errors) -> dict:
    """Active learning. Each item gets an uncertainty from 0 to 1: the largest of 1 - its best confidence, 1 - the
    margin between its top two classes, the spread of its boxes' confidences and, with compare_model_version_id,
    how far that version's suggestions on the item disagree (pipeline_nodes.item_uncertainty). Items at or above
    accept_threshold (and, with disagreement_threshold, disagreeing less than it) have their suggestions accepted
    and take the 'accept' edges, except a qa_rate share sampled into qa_task_id; the others take the 'human' edges,
    where a human_task node serves the most uncertain first."""
    from .pipelines import _number, check_human_task

    unknown_keys(config, {"accept_threshold", "disagreement_threshold", "compare_model_version_id", "qa_rate",
                          "qa_task_id"}, path, errors)
    clean = {"accept_threshold": _number(config, "accept_threshold", path, errors)}
    if config.get("disagreement_threshold") is not None:
        clean["disagreement_threshold"] = _number(config, "disagreement_threshold", path, errors)
    if config.get("compare_model_version_id") not in (None, ""):
        clean["compare_model_version_id"] = _model_version(config, "compare_model_version_id", org=org, actor=actor,
                                                           path=path, errors=errors)
    rate = _number(config, "qa_rate", path, errors, default=0.0) or 0.0
    if rate > 0 or config.get("qa_task_id") not in (None, ""):
        if config.get("qa_task_id") in (None, ""):
            errors[f"{path}.qa_task_id"] = "Required with a qa_rate above 0: the review task the sample goes to."
        else:
            task = check_human_task({"task_id": config.get("qa_task_id")}, org=org, actor=actor, dataset=dataset,
                                    path=path, errors=errors)
            if f"{path}.task_id" in errors:
                errors[f"{path}.qa_task_id"] = errors.pop(f"{path}.task_id")
            clean.update(qa_rate=rate, qa_task_id=task["task_id"])
    return clean


DATASET_VERSION_SCOPES = ("dataset", "run", "filter")


def check_dataset_version(config, *, org, actor, dataset, path, errors) -> dict:
    """What the version holds, said in its config: `scope` "dataset" (the default) versions every item of the
    dataset as it stands when the run finishes; "run" only the run's items (the `pipeline.run` query fact); "filter"
    the items matching `filter` (the query language) then. Made once per run, after every item of the run is
    through."""
    from .pipeline_triggers import _check_query

    unknown_keys(config, {"message", "scope", "filter"}, path, errors)
    message = config.get("message", "")
    if not isinstance(message, str) or not message.strip() or len(message) > 500:
        errors[f"{path}.message"] = "Say what the version is, in 1 to 500 characters."
        message = ""
    if dataset is not None and actor is not None and not has_scope(org=org, actor=actor, scope="dataset.version",
                                                                     obj=dataset):
        errors[f"{path}"] = "You may not make versions of this dataset."
    scope = config.get("scope", "dataset")
    if scope not in DATASET_VERSION_SCOPES:
        errors[f"{path}.scope"] = f"One of {', '.join(DATASET_VERSION_SCOPES)}."
        scope = "dataset"
    if scope in ("dataset", "run"):
        if config.get("filter") not in (None, {}):
            errors[f"{path}.filter"] = "Only a version of scope 'filter' takes a filter."
        return {"message": message.strip(), "scope": scope}
    query = _check_query({"query": config.get("filter")}, dataset=dataset, path=path, errors=errors, required=True)
    for key in [k for k in errors if k.startswith(f"{path}.query")]:
        errors[f"{path}.filter" + key.removeprefix(f"{path}.query")] = errors.pop(key)
    return {"message": message.strip(), "scope": "filter", "filter": query or {}}
