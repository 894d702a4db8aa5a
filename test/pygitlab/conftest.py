"""Fixtures for python-gitlab's own functional tests (tests/functional/api), pointed at a running
Gatehouse instead of the GitLab container python-gitlab's conftest starts with Docker.

functional_test.go copies python-gitlab's tests next to this file and runs pytest; it passes the
server in GATEHOUSE_URL and an admin personal access token (scopes api, sudo) in GATEHOUSE_TOKEN.
The fixture names and shapes are those python-gitlab's tests expect; where a fixture needs a GitLab
feature Gatehouse does not have (Sidekiq, runners), it is not provided and the tests using it fail,
which functional_test.go's list of expected results accounts for.
"""

import logging
import os
import pathlib
import uuid

import pytest

import gitlab
from tests.functional import helpers


@pytest.fixture(scope="session")
def gitlab_url() -> str:
    return os.environ["GATEHOUSE_URL"]


@pytest.fixture(scope="session")
def temp_dir(tmp_path_factory) -> pathlib.Path:
    return tmp_path_factory.mktemp("gatehouse")


@pytest.fixture(scope="session")
def fixture_dir(test_dir: pathlib.Path) -> pathlib.Path:
    return test_dir / "functional" / "fixtures"


@pytest.fixture(scope="session")
def gitlab_config(gitlab_url: str, temp_dir: pathlib.Path) -> pathlib.Path:
    """Written where python-gitlab's own conftest writes it: test_auth_from_config reads it there."""
    config_file = temp_dir / "python-gitlab.cfg"
    config_file.write_text(
        "[global]\ndefault = local\ntimeout = 60\n\n"
        f"[local]\nurl = {gitlab_url}\nprivate_token = {os.environ['GATEHOUSE_TOKEN']}\napi_version = 4\n",
        encoding="utf-8",
    )
    return config_file


def reset_gitlab(gl: gitlab.Gitlab) -> None:
    """Leaves only root, as python-gitlab's reset_gitlab does before a run."""
    for project in gl.projects.list(get_all=True):
        helpers.safe_delete(project)
    for group in gl.groups.list(get_all=True):
        if not group.parent_id:
            helpers.safe_delete(group)
    for user in gl.users.list(get_all=True):
        if user.username not in ("root", "ghost"):
            helpers.safe_delete(user, hard_delete=True)


@pytest.fixture(scope="session")
def gl(gitlab_config):
    instance = gitlab.Gitlab.from_config("local", [gitlab_config])
    reset_gitlab(instance)
    return instance


@pytest.fixture(scope="session")
def gitlab_version(gl):
    version, revision = gl.version()
    major, minor, patch = version.split(".")
    return type("GitlabVersion", (), {"major": int(major), "minor": int(minor), "patch": patch, "revision": revision})


@pytest.fixture(scope="session")
def gitlab_plan(gl):
    return helpers.get_gitlab_plan(gl)


@pytest.fixture(autouse=True)
def gitlab_premium(gitlab_plan, request) -> None:
    if gitlab_plan in ("premium", "ultimate"):
        return
    if request.node.get_closest_marker("gitlab_premium") or request.node.get_closest_marker("gitlab_ultimate"):
        pytest.skip("Test requires GitLab Premium plan")


@pytest.fixture
def wait_for_sidekiq():
    """Gatehouse has no background queue to drain: what the API answers has happened."""

    def _wait(timeout: int = 30, step: float = 0.5, allow_fail: bool = False) -> bool:
        return True

    return _wait


@pytest.fixture(scope="module")
def group(gl):
    _id = uuid.uuid4().hex
    group = gl.groups.create({"name": f"test-group-{_id}", "path": f"group-{_id}"})
    yield group
    helpers.safe_delete(group)


@pytest.fixture(scope="module")
def project(gl):
    _id = uuid.uuid4().hex
    project = gl.projects.create(name=f"test-project-{_id}")
    yield project
    helpers.safe_delete(project)


@pytest.fixture(scope="module")
def user(gl):
    _id = uuid.uuid4().hex
    user = gl.users.create(
        email=f"user{_id}@email.com", username=f"user{_id}", name=f"User {_id}", password="fakepassword"
    )
    yield user
    helpers.safe_delete(user, hard_delete=True)


@pytest.fixture(scope="module")
def variable(project):
    _id = uuid.uuid4().hex
    return project.variables.create({"key": f"var{_id}", "value": f"Variable {_id}"})


@pytest.fixture(scope="module")
def deploy_token(project):
    _id = uuid.uuid4().hex
    return project.deploytokens.create(
        {"name": f"token-{_id}", "username": "root", "expires_at": "2021-09-09", "scopes": "read_registry"}
    )


@pytest.fixture(scope="module")
def group_deploy_token(group):
    _id = uuid.uuid4().hex
    return group.deploytokens.create(
        {"name": f"group-token-{_id}", "username": "root", "expires_at": "2021-09-09", "scopes": "read_registry"}
    )


logging.getLogger("urllib3").setLevel(logging.WARNING)
