from tests.workforce.conftest import make_task, team  # noqa: F401 - the workforce's task and team fixtures
