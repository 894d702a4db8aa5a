"""Drive Gatehouse's REST API with the real python-gitlab, as an automation script written for
GitLab would, and print what it saw as one JSON object on stdout.

Inputs (environment): GATEHOUSE_URL, GATEHOUSE_TOKEN (an admin personal access token),
PROJECT_ID, PROJECT_PATH, GROUP_ID, GROUP_PATH, EXPIRES_AT (YYYY-MM-DD in the future).
Run by pythongitlab_test.go; the Go test makes the assertions.
"""

import json
import os
import sys
import warnings

import gitlab


def view(obj):
    """The attributes a script would read from a deploy token, plus whether a secret came back."""
    a = obj.attributes
    secret = a.get("token")
    return {
        "id": a.get("id"),
        "name": a.get("name"),
        "username": a.get("username"),
        "scopes": a.get("scopes"),
        "expires_at": a.get("expires_at"),
        "revoked": a.get("revoked"),
        "expired": a.get("expired"),
        "has_token_key": "token" in a,
        "token_prefix": secret[:5] if isinstance(secret, str) else None,
        "token_len": len(secret) if isinstance(secret, str) else 0,
    }


def error_of(fn):
    """Run fn, expecting a GitlabError; return its status code and message."""
    try:
        fn()
    except gitlab.exceptions.GitlabError as e:
        return {"type": type(e).__name__, "code": e.response_code, "message": str(e.error_message)}
    return {"type": None, "code": None, "message": "no error"}


def main():
    env = os.environ
    out = {"python_gitlab": gitlab.__version__}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gl = gitlab.Gitlab(env["GATEHOUSE_URL"], private_token=env["GATEHOUSE_TOKEN"], per_page=2)
        gl.auth()
        out["user"] = gl.user.username

        # Projects: by numeric id and by full path (python-gitlab URL-encodes it).
        project = gl.projects.get(int(env["PROJECT_ID"]))
        by_path = gl.projects.get(env["PROJECT_PATH"])
        out["project"] = {"id": project.id, "path_with_namespace": project.path_with_namespace,
                          "by_path_id": by_path.id}

        # Project deploy tokens. Empty username / expires_at mean the default / never.
        created = project.deploytokens.create({
            "name": "py-project", "scopes": ["read_repository", "read_registry"],
            "expires_at": env["EXPIRES_AT"], "username": ""})
        custom = project.deploytokens.create({
            "name": "py-custom", "scopes": ["read_package_registry"],
            "username": "py-custom-user", "expires_at": ""})
        extra = [project.deploytokens.create({"name": f"py-extra-{i}", "scopes": "read_repository"})
                 for i in range(3)]
        out["project_created"] = view(created)
        out["project_custom"] = view(custom)
        out["project_extra"] = [view(t) for t in extra]
        listed = project.deploytokens.list(get_all=True)
        out["project_list"] = [view(t) for t in listed]
        out["project_first_page"] = [t.id for t in project.deploytokens.list(page=1)]
        out["project_iterated"] = [t.id for t in project.deploytokens.list(iterator=True)]
        out["project_get"] = view(project.deploytokens.get(created.id))
        project.deploytokens.delete(created.id)
        out["project_get_after_delete"] = error_of(lambda: project.deploytokens.get(created.id))
        custom.delete()
        out["project_list_after_delete"] = [t.id for t in project.deploytokens.list(get_all=True)]
        out["project_create_bad_scope"] = error_of(lambda: project.deploytokens.create(
            {"name": "bad", "scopes": ["read_everything"]}))
        out["project_create_bad_expiry"] = error_of(lambda: project.deploytokens.create(
            {"name": "bad", "scopes": ["read_repository"], "expires_at": "2000-13-01"}))
        # GitLab checks only the format: a past date creates an already-expired token. It is
        # deleted again so the counts below stay those of the tokens above.
        past = project.deploytokens.create(
            {"name": "old", "scopes": ["read_repository"], "expires_at": "2000-01-01"})
        out["project_created_past"] = view(past)
        past.delete()

        # Group deploy tokens, the group fetched by full path.
        group = gl.groups.get(env["GROUP_PATH"])
        out["group"] = {"id": group.id, "full_path": group.full_path}
        gcreated = group.deploytokens.create({
            "name": "py-group", "scopes": ["read_repository", "read_package_registry"],
            "username": "", "expires_at": ""})
        out["group_created"] = view(gcreated)
        out["group_list"] = [view(t) for t in group.deploytokens.list(get_all=True)]
        out["group_get"] = view(group.deploytokens.get(gcreated.id))

        # Every token of the instance (admin only).
        out["instance_list"] = [view(t) for t in gl.deploytokens.list(get_all=True)]
        out["instance_active"] = [t.id for t in gl.deploytokens.list(get_all=True, active=True)]

        gcreated.delete()
        out["group_get_after_delete"] = error_of(lambda: group.deploytokens.get(gcreated.id))
        out["group_list_after_delete"] = [t.id for t in group.deploytokens.list(get_all=True)]

        out["missing_project"] = error_of(lambda: gl.projects.get(999999))

    out["warnings"] = [str(w.message) for w in caught]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
