"""Drive Gatehouse's Packages API with the real python-gitlab, as a clean-up script written for
GitLab would, and print what it saw as one JSON object on stdout.

Inputs (environment): GATEHOUSE_URL, GATEHOUSE_TOKEN (a maintainer's personal access token),
REPORTER_TOKEN (a reporter's), PROJECT_ID, GROUP_ID. The project holds generic packages
tool 1.0.0 (two files), tool 2.0.0 and lib 0.1.0. Run by pythongitlab_packages_test.go; the Go
test makes the assertions.
"""

import json
import os
import sys
import warnings

import gitlab


def view(pkg):
    """The attributes a script would read from a package."""
    a = pkg.attributes
    return {"id": a.get("id"), "name": a.get("name"), "version": a.get("version"),
            "package_type": a.get("package_type"), "status": a.get("status"),
            "created_at": a.get("created_at"), "project_id": a.get("project_id"),
            "links": a.get("_links")}


def file_view(f):
    a = f.attributes
    return {"id": a.get("id"), "package_id": a.get("package_id"), "file_name": a.get("file_name"),
            "size": a.get("size"), "file_sha256": a.get("file_sha256"), "file_md5": a.get("file_md5"),
            "file_sha1": a.get("file_sha1")}


def error_of(fn):
    """Run fn, expecting a GitlabError; return its type and status code."""
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
        project = gl.projects.get(int(env["PROJECT_ID"]), lazy=True)

        # One more package, published with python-gitlab's own generic-package upload.
        upload = os.path.join(env["HOME"], "py.bin")
        with open(upload, "wb") as f:
            f.write(b"uploaded by python-gitlab")
        project.generic_packages.upload(package_name="py-upload", package_version="0.0.1",
                                        file_name="py.bin", path=upload)

        out["list"] = [view(p) for p in project.packages.list(get_all=True)]
        out["first_page"] = [p.id for p in project.packages.list(page=1)]
        out["iterated"] = [p.id for p in project.packages.list(iterator=True)]
        out["by_name"] = [view(p) for p in project.packages.list(get_all=True, package_name="tool",
                                                                  order_by="version", sort="desc")]
        out["by_type"] = [p.id for p in project.packages.list(get_all=True, package_type="npm")]

        tool1 = [p for p in project.packages.list(get_all=True, package_name="tool", package_version="1.0.0")][0]
        got = project.packages.get(tool1.id)
        out["get"] = view(got)
        out["files"] = [file_view(f) for f in got.package_files.list(get_all=True)]

        # Delete one file of tool 1.0.0, then the whole tool 2.0.0.
        got.package_files.delete(out["files"][0]["id"])
        out["files_after_delete"] = [file_view(f) for f in got.package_files.list(get_all=True)]
        tool2 = [p for p in project.packages.list(get_all=True, package_version="2.0.0")][0]
        project.packages.delete(tool2.id)
        out["deleted_id"] = tool2.id
        out["get_after_delete"] = error_of(lambda: project.packages.get(tool2.id))
        out["delete_again"] = error_of(lambda: project.packages.delete(tool2.id))
        out["list_after_delete"] = [view(p) for p in project.packages.list(get_all=True)]

        group = gl.groups.get(int(env["GROUP_ID"]), lazy=True)
        out["group_list"] = [view(p) for p in group.packages.list(get_all=True)]

        # A reporter reads but cannot delete.
        rep = gitlab.Gitlab(env["GATEHOUSE_URL"], private_token=env["REPORTER_TOKEN"])
        rproject = rep.projects.get(int(env["PROJECT_ID"]), lazy=True)
        out["reporter_list"] = [p.id for p in rproject.packages.list(get_all=True)]
        out["reporter_delete"] = error_of(lambda: rproject.packages.delete(tool1.id))
        out["reporter_file_delete"] = error_of(
            lambda: rproject.packages.get(tool1.id, lazy=True).package_files.delete(out["files_after_delete"][0]["id"]))

    out["warnings"] = [str(w.message) for w in caught]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
