"""Try, with the real python-gitlab, what a group maintainer might do to the group's only owner,
and what the owner may do to themselves; print each outcome as one JSON object on stdout.

Inputs (environment): GATEHOUSE_URL, OWNER_TOKEN, MAINT_TOKEN (personal access tokens),
GROUP_ID, PROJECT_ID, OWNER_ID, MAINT_ID, NEWCOMER_ID. Run by members_test.go, which makes the
assertions.
"""

import json
import os

import gitlab


def outcome(fn):
    """Run fn; return the error's status code and message, or code 0 and fn's result."""
    try:
        return {"code": 0, "result": fn()}
    except gitlab.exceptions.GitlabError as e:
        return {"code": e.response_code, "message": str(e.error_message)}


def main():
    env = os.environ
    url = env["GATEHOUSE_URL"]
    owner_id, maint_id, newcomer_id = int(env["OWNER_ID"]), int(env["MAINT_ID"]), int(env["NEWCOMER_ID"])
    as_owner = gitlab.Gitlab(url, private_token=env["OWNER_TOKEN"])
    as_maint = gitlab.Gitlab(url, private_token=env["MAINT_TOKEN"])
    g_owner = as_owner.groups.get(int(env["GROUP_ID"]))
    g_maint = as_maint.groups.get(int(env["GROUP_ID"]), lazy=True)
    p_owner = as_owner.projects.get(int(env["PROJECT_ID"]), lazy=True)
    p_maint = as_maint.projects.get(int(env["PROJECT_ID"]), lazy=True)
    out = {}

    # The attack: the maintainer "adds" the owner again as a guest (once an upsert).
    out["maint_readds_owner"] = outcome(lambda: g_maint.members.create({"user_id": owner_id, "access_level": 10}).access_level)
    out["maint_updates_owner"] = outcome(lambda: g_maint.members.update(owner_id, {"access_level": 10}))
    out["maint_removes_owner"] = outcome(lambda: g_maint.members.delete(owner_id))
    out["maint_grants_owner"] = outcome(lambda: g_maint.members.create({"user_id": newcomer_id, "access_level": 50}).access_level)

    # What a maintainer may do: add, change (through get + save) and remove up to maintainer.
    out["maint_adds_developer"] = outcome(lambda: g_maint.members.create({"user_id": newcomer_id, "access_level": 30}).access_level)

    def promote():
        m = g_maint.members.get(newcomer_id)
        m.access_level = 40
        m.save()
        return g_maint.members.get(newcomer_id).access_level
    out["maint_promotes_to_maintainer"] = outcome(promote)
    out["maint_removes_developer"] = outcome(lambda: g_maint.members.delete(newcomer_id))

    # The only owner cannot demote or remove themselves.
    out["owner_demotes_self"] = outcome(lambda: g_owner.members.update(owner_id, {"access_level": 40}))
    out["owner_removes_self"] = outcome(lambda: g_owner.members.delete(owner_id))
    out["owner_level"] = next((m.access_level for m in g_owner.members.list(get_all=True) if m.id == owner_id), 0)

    # Project members: an owner member is the owners' to change; POST never updates.
    out["owner_adds_project_owner"] = outcome(lambda: p_owner.members.create({"user_id": newcomer_id, "access_level": 50}).access_level)
    out["maint_readds_project_owner"] = outcome(lambda: p_maint.members.create({"user_id": newcomer_id, "access_level": 10}).access_level)
    out["maint_demotes_project_owner"] = outcome(lambda: p_maint.members.update(newcomer_id, {"access_level": 10}))
    out["maint_removes_project_owner"] = outcome(lambda: p_maint.members.delete(newcomer_id))
    out["project_newcomer_level"] = next((m.access_level for m in p_owner.members.list(get_all=True) if m.id == newcomer_id), 0)

    # A second owner lets the first step down.
    out["owner_promotes_maint"] = outcome(lambda: g_owner.members.update(maint_id, {"access_level": 50}))
    out["owner_steps_down"] = outcome(lambda: g_owner.members.update(owner_id, {"access_level": 40}))
    json.dump(out, __import__("sys").stdout)


main()
