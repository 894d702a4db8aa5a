"""Read a repository and audit events through Gatehouse with the real python-gitlab, as a script
written for GitLab would, and print what it saw as one JSON object on stdout.

Inputs (environment): GATEHOUSE_URL, GATEHOUSE_TOKEN (an administrator's personal access token),
READER_TOKEN (a reporter's, scope read_api), PROJECT_ID, GROUP_ID. The project's repository holds
main, merged-one and feature/x, tags v1, v10 and v2.0 (repository_test.go's pushRepo); the
project and the group have deploy-token audit events. Run by pythongitlab_repository_test.go; the
Go test makes the assertions.
"""

import base64
import hashlib
import io
import json
import os
import sys
import warnings
import zipfile

import gitlab


def error_of(fn):
    """Run fn, expecting a GitlabError; return its type and status code."""
    try:
        fn()
    except gitlab.exceptions.GitlabError as e:
        return {"type": type(e).__name__, "code": e.response_code, "message": str(e.error_message)}
    return {"type": None, "code": None, "message": "no error"}


def event(e):
    a = e.attributes
    return {"id": a.get("id"), "entity_type": a.get("entity_type"), "entity_id": a.get("entity_id"),
            "event_name": a.get("event_name"), "author_email": a.get("details", {}).get("author_email"),
            "entity_path": a.get("details", {}).get("entity_path")}


def main():
    out = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gl = gitlab.Gitlab(os.environ["GATEHOUSE_URL"], private_token=os.environ["READER_TOKEN"])
        project = gl.projects.get(int(os.environ["PROJECT_ID"]))

        branches = project.branches.list(get_all=True)
        out["branches"] = [{"name": b.name, "default": b.default, "merged": b.merged, "commit": b.commit["id"]}
                           for b in branches]
        feature = project.branches.get("feature/x")
        out["branch_get"] = {"name": feature.name, "commit": feature.commit["id"]}
        out["branch_missing"] = error_of(lambda: project.branches.get("nope"))
        out["tags"] = [{"name": t.name, "message": t.message, "commit": t.commit["id"]}
                       for t in project.tags.list(get_all=True, order_by="name", sort="asc")]
        out["tag_get"] = project.tags.get("v2.0").message

        out["tree"] = [e["path"] for e in project.repository_tree(get_all=True)]
        out["tree_recursive"] = [e["path"] for e in project.repository_tree(path="dir", ref="main", recursive=True,
                                                                            get_all=True)]
        out["tree_paged"] = [e["path"] for e in project.repository_tree(get_all=True, per_page=2)]

        f = project.files.get(file_path="dir/sub/file.txt", ref="main")
        out["file"] = {"decoded": f.decode().decode(), "file_path": f.file_path, "blob_id": f.blob_id,
                       "last_commit_id": f.last_commit_id, "size": f.size, "content_sha256": f.content_sha256,
                       "sha_ok": hashlib.sha256(base64.b64decode(f.content)).hexdigest() == f.content_sha256}
        out["file_missing"] = error_of(lambda: project.files.get(file_path="nope.txt", ref="main"))
        out["raw"] = project.files.raw(file_path="README.md", ref="feature/x").decode()
        out["raw_default"] = project.files.raw(file_path="README.md", ref=None).decode()  # requests drops a None ref

        data = project.repository_archive(format="zip")
        out["archive_names"] = sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())

        admin = gitlab.Gitlab(os.environ["GATEHOUSE_URL"], private_token=os.environ["GATEHOUSE_TOKEN"])
        ap = admin.projects.get(int(os.environ["PROJECT_ID"]))
        group = admin.groups.get(int(os.environ["GROUP_ID"]))
        instance_events = admin.audit_events.list(get_all=True)
        out["instance_events"] = [event(e) for e in instance_events]
        out["instance_get"] = event(admin.audit_events.get(instance_events[0].id))
        out["instance_projects"] = [event(e) for e in admin.audit_events.list(entity_type="Project", get_all=True)]
        project_events = ap.audit_events.list(get_all=True)
        out["project_events"] = [event(e) for e in project_events]
        out["project_get"] = event(ap.audit_events.get(project_events[0].id))
        group_events = group.audit_events.list(get_all=True)
        out["group_get"] = event(group.audit_events.get(group_events[0].id))
        out["group_get_other"] = error_of(lambda: group.audit_events.get(project_events[0].id))
        out["reader_events"] = error_of(lambda: project.audit_events.list())
    out["warnings"] = [str(w.message) for w in caught]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
