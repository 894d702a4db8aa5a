"""Manage groups and projects through their lifecycle with the real python-gitlab, as automation
does: create, list, edit and save, transfer, delete; print each outcome as one JSON object on
stdout.

Inputs (environment): GATEHOUSE_URL, OWNER_TOKEN, MAINT_TOKEN, ROOT_TOKEN (personal access tokens; the
maintainer is made a maintainer of the group the owner creates), MAINT_ID. Run by
lifecycle_test.go, which makes the assertions.
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
    gl = gitlab.Gitlab(env["GATEHOUSE_URL"], private_token=env["OWNER_TOKEN"])
    as_maint = gitlab.Gitlab(env["GATEHOUSE_URL"], private_token=env["MAINT_TOKEN"])
    gl.auth()
    out = {}

    top = gl.groups.create({"name": "Life", "path": "life", "visibility": "internal"})
    sub = gl.groups.create({"name": "Sub", "path": "sub", "parent_id": top.id, "visibility": "internal"})
    dest = gl.groups.create({"name": "Dest", "path": "dest"})
    top.members.create({"user_id": int(env["MAINT_ID"]), "access_level": 40})
    out["creator_member"] = [m.access_level for m in top.members.list() if m.id == gl.user.id]
    app = gl.projects.create({"name": "app", "namespace_id": sub.id, "description": "the app"})
    mine = gl.projects.create({"name": "mine"})
    out["top"] = {"visibility": top.visibility, "id": top.id}
    out["app"] = {"namespace": app.namespace, "description": app.description, "visibility": app.visibility}
    out["mine_namespace"] = mine.namespace
    out["mine_namespace_as_group"] = outcome(lambda: gl.groups.get(mine.namespace["id"]).id)

    # A personal namespace id is what namespace_id takes, and /namespaces/:id shows it.
    again = gl.projects.create({"name": "again", "namespace_id": mine.namespace["id"]})
    out["again"] = again.path_with_namespace
    ns = gl.namespaces.get(mine.namespace["id"])
    out["namespace_user"] = {"kind": ns.kind, "full_path": ns.full_path}
    out["namespace_group"] = gl.namespaces.get("life/sub").full_path
    out["namespaces_search"] = sorted(n.full_path for n in gl.namespaces.list(search="life", get_all=True))
    out["namespaces_owned"] = sorted(n.full_path for n in gl.namespaces.list(owned_only=True, get_all=True))

    out["top_projects"] = [p.path_with_namespace for p in top.projects.list(get_all=True)]
    out["top_projects_deep"] = [p.path_with_namespace for p in top.projects.list(include_subgroups=True, get_all=True)]
    out["descendants"] = [g.full_path for g in top.descendant_groups.list(get_all=True)]
    out["project_groups"] = [g.full_path for g in gl.projects.get(app.id).groups.list(get_all=True)]

    # Edit and save, as GitLab's objects do.
    top.description = "the top"
    top.save()
    top = gl.groups.get(top.id)
    out["top_saved"] = {"description": top.description, "visibility": top.visibility}
    app = gl.projects.get(app.id)
    app.default_branch = "develop"
    app.description = "edited"
    app.save()
    app = gl.projects.get(app.id)
    out["app_saved"] = {"default_branch": app.default_branch, "description": app.description}
    app.visibility = "public"
    out["app_too_visible"] = outcome(lambda: app.save())
    app = gl.projects.get(app.id)
    lower = gl.groups.get(top.id)
    lower.visibility = "private"
    out["top_below_contents"] = outcome(lambda: lower.save())
    out["unsupported_attribute"] = outcome(lambda: gl.projects.update(app.id, {"topics": "x"}))

    # Sharing dest with life: life's maintainer gets developer access in dest, no more, until
    # the share goes.
    shared = gl.projects.create({"name": "shared", "namespace_id": dest.id})
    out["maint_before_share"] = outcome(lambda: as_maint.projects.get(shared.id).id)
    dest.share(top.id, 30, expires_at="2999-01-01")
    out["shared_with"] = gl.groups.get(dest.id).shared_with_groups
    out["maint_after_share"] = outcome(lambda: as_maint.projects.get(shared.id).path_with_namespace)
    out["maint_share_capped"] = outcome(lambda: as_maint.projects.get(shared.id, lazy=True).members.create({"user_id": gl.user.id, "access_level": 10}))
    out["share_twice"] = outcome(lambda: dest.share(top.id, 30))
    out["maint_shares"] = outcome(lambda: as_maint.groups.get(top.id, lazy=True).share(dest.id, 10))
    dest.unshare(top.id)
    out["maint_after_unshare"] = outcome(lambda: as_maint.projects.get(shared.id).id)

    # A maintainer edits but neither deletes nor transfers.
    out["maint_edits"] = outcome(lambda: as_maint.projects.update(app.id, {"description": "by maint"})["description"])
    out["maint_renames"] = outcome(lambda: as_maint.projects.update(app.id, {"name": "nope"}))
    out["maint_deletes_project"] = outcome(lambda: as_maint.projects.delete(app.id))
    out["maint_transfers_project"] = outcome(lambda: as_maint.projects.get(app.id, lazy=True).transfer(dest.id))
    out["maint_deletes_group"] = outcome(lambda: as_maint.groups.delete(sub.id))
    out["maint_transfers_group"] = outcome(lambda: as_maint.groups.get(sub.id, lazy=True).transfer(dest.id))

    # Transfers: a project to another group (by id) and to its owner's namespace (by path); a
    # group under another and back to the top level.
    gl.projects.get(app.id).transfer(dest.id)
    moved = gl.projects.get(app.id)
    out["app_moved"] = {"path": moved.path_with_namespace, "namespace": moved.namespace["full_path"], "visibility": moved.visibility}
    gl.projects.get(app.id).transfer(gl.user.username)
    out["app_personal"] = gl.projects.get(app.id).path_with_namespace
    gl.projects.get(app.id).transfer("life/sub")
    gl.groups.get(sub.id).transfer(dest.id)
    out["sub_moved"] = gl.groups.get(sub.id).full_path
    out["app_with_sub"] = gl.projects.get(app.id).path_with_namespace
    out["old_path"] = outcome(lambda: gl.projects.get("life/sub/app").id)
    out["into_itself"] = outcome(lambda: gl.groups.get(dest.id).transfer(sub.id))
    gl.groups.get(sub.id).transfer()
    out["sub_top_level"] = gl.groups.get(sub.id).full_path

    # An administrator moves a project into a group (group.transfer_project); the owner may not.
    out["owner_transfers_into_group"] = outcome(lambda: dest.transfer_project(again.id))
    admin = gitlab.Gitlab(env["GATEHOUSE_URL"], private_token=env["ROOT_TOKEN"])
    admin.groups.get(dest.id).transfer_project(again.id)
    out["again_in_dest"] = gl.projects.get(again.id).path_with_namespace

    # Deletion: a project, then a group with what is left in it.
    gl.projects.get(again.id).delete()
    out["again_after_delete"] = outcome(lambda: gl.projects.get(again.id).id)
    gl.groups.get(sub.id).delete()
    out["sub_after_delete"] = outcome(lambda: gl.groups.get(sub.id).id)
    out["app_after_group_delete"] = outcome(lambda: gl.projects.get(app.id).id)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
