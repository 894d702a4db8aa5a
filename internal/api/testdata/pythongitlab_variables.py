"""Manage project and group CI/CD variables as GitLab automation does, with the real
python-gitlab; print each outcome as one JSON object on stdout.

Inputs (environment): GATEHOUSE_URL, GATEHOUSE_TOKEN (an administrator's), MAINT_TOKEN and
DEV_TOKEN (a project maintainer's and developer's), GMAINT_TOKEN (a group maintainer's),
PROJECT_ID, GROUP_ID, SECRET (a value the test then looks for in the database). Run by
variables_test.go, which makes the assertions.
"""

import json
import os
import sys

import gitlab


def outcome(fn):
    try:
        return {"code": 0, "result": fn()}
    except gitlab.exceptions.GitlabError as e:
        return {"code": e.response_code, "message": str(e.error_message)}


def view(v):
    return {k: getattr(v, k, None) for k in ("key", "value", "variable_type", "protected", "masked", "raw", "environment_scope")}


def main():
    env = os.environ
    url, secret = env["GATEHOUSE_URL"], env["SECRET"]
    as_maint = gitlab.Gitlab(url, private_token=env["MAINT_TOKEN"])
    as_dev = gitlab.Gitlab(url, private_token=env["DEV_TOKEN"])
    as_gmaint = gitlab.Gitlab(url, private_token=env["GMAINT_TOKEN"])
    root = gitlab.Gitlab(url, private_token=env["GATEHOUSE_TOKEN"])
    project = as_maint.projects.get(int(env["PROJECT_ID"]), lazy=True)
    out = {}

    out["create"] = view(project.variables.create({"key": "DEPLOY_KEY", "value": secret, "masked": True, "protected": True}))
    out["create_file"] = view(project.variables.create({"key": "KUBECONFIG", "value": "apiVersion: v1\n", "variable_type": "file"}))
    out["create_scoped"] = view(project.variables.create({"key": "DEPLOY_KEY", "value": "staging-value-1", "environment_scope": "staging"}))
    out["create_taken"] = outcome(lambda: project.variables.create({"key": "DEPLOY_KEY", "value": "x"}))
    out["create_bad_mask"] = outcome(lambda: project.variables.create({"key": "SHORT", "value": "short", "masked": True}))
    out["create_bad_mask_chars"] = outcome(lambda: project.variables.create({"key": "SPACES", "value": "has spaces in it", "masked": True}))
    out["create_bad_key"] = outcome(lambda: project.variables.create({"key": "BAD-KEY", "value": "x"}))
    out["create_bad_type"] = outcome(lambda: project.variables.create({"key": "T", "value": "x", "variable_type": "blob"}))
    out["list"] = sorted((v.key, v.environment_scope) for v in project.variables.list(get_all=True))
    out["get_ambiguous"] = outcome(lambda: project.variables.get("DEPLOY_KEY").value)
    out["get_filtered"] = project.variables.get("DEPLOY_KEY", filter={"environment_scope": "*"}).value
    out["get_file"] = view(project.variables.get("KUBECONFIG"))

    v = project.variables.get("KUBECONFIG")
    v.value = "apiVersion: v2\n"
    v.protected = True
    v.save()
    out["updated"] = view(project.variables.get("KUBECONFIG"))
    out["update_missing"] = outcome(lambda: project.variables.update("NOPE", {"key": "NOPE", "value": "x"}))
    project.variables.delete("KUBECONFIG")
    out["get_deleted"] = outcome(lambda: project.variables.get("KUBECONFIG"))

    # Permissions: a developer cannot read them; a group maintainer cannot touch group variables.
    out["dev_list"] = outcome(lambda: [x.key for x in as_dev.projects.get(int(env["PROJECT_ID"]), lazy=True).variables.list()])
    out["gmaint_list"] = outcome(lambda: [x.key for x in as_gmaint.groups.get(int(env["GROUP_ID"]), lazy=True).variables.list()])

    group = root.groups.get(int(env["GROUP_ID"]), lazy=True)
    out["group_create"] = view(group.variables.create({"key": "GROUP_TOKEN", "value": "group-secret-value", "masked": True}))
    gv = group.variables.get("GROUP_TOKEN")
    gv.value = "group-secret-value-2"
    gv.save()
    out["group_get"] = group.variables.get("GROUP_TOKEN").value
    out["group_list"] = [x.key for x in group.variables.list()]
    group.variables.delete("GROUP_TOKEN")
    out["group_list_after"] = [x.key for x in group.variables.list()]
    json.dump(out, sys.stdout)


main()
