"""List inherited members as GitLab automation does, with the real python-gitlab
(members_all); print each outcome as one JSON object on stdout.

Inputs (environment): GATEHOUSE_URL, VIEWER_TOKEN (a member's personal access token),
OUTSIDER_TOKEN, SUB_ID (group/sub), PROJECT_ID (group/sub/child), PERSONAL_ID (a personal
project), SM_ID, NOBODY_ID. Run by members_all_test.go, which makes the assertions.
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


def levels(members):
    return {m.username: m.access_level for m in members}


def main():
    env = os.environ
    gl = gitlab.Gitlab(env["GATEHOUSE_URL"], private_token=env["VIEWER_TOKEN"])
    outsider = gitlab.Gitlab(env["GATEHOUSE_URL"], private_token=env["OUTSIDER_TOKEN"])
    sub = gl.groups.get(int(env["SUB_ID"]), lazy=True)
    project = gl.projects.get(int(env["PROJECT_ID"]), lazy=True)
    out = {
        "group_all": levels(sub.members_all.list(get_all=True)),
        "group_direct": levels(sub.members.list(get_all=True)),
        "project_all": levels(project.members_all.list(get_all=True)),
        "project_query": levels(project.members_all.list(query="SUB", get_all=True)),
        "project_user_ids": levels(project.members_all.list(user_ids=env["SM_ID"], get_all=True)),
        "group_get": sub.members_all.get(int(env["SM_ID"])).access_level,
        "project_get": project.members_all.get(int(env["SM_ID"])).access_level,
        "group_get_nobody": outcome(lambda: sub.members_all.get(int(env["NOBODY_ID"]))),
        "personal_hidden": outcome(lambda: gl.projects.get(int(env["PERSONAL_ID"]), lazy=True).members_all.list()),
        "personal_all": levels(gitlab.Gitlab(env["GATEHOUSE_URL"], private_token=env["GATEHOUSE_TOKEN"]).projects.get(int(env["PERSONAL_ID"]), lazy=True).members_all.list(get_all=True)),
        "outsider": outcome(lambda: outsider.groups.get(int(env["SUB_ID"]), lazy=True).members_all.list()),
        "unsupported": outcome(lambda: sub.members_all.list(show_seat_info=True)),
    }
    json.dump(out, sys.stdout)


main()
