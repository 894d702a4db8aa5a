"""Issue 14's REST conventions as real python-gitlab automation uses them: search, pagination
across pages (iterator and get_all), keyset pagination, sudo, and GitLab's error bodies. Prints
one JSON object on stdout. A create with an avatar file comes as multipart/form-data.

Inputs (environment): GATEHOUSE_URL, ROOT_TOKEN (api), SUDO_TOKEN (root's, api + sudo),
ALICE_TOKEN, GROUP_ID. Run by conventions_pythongitlab_test.go, which makes the assertions.
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
    gl = gitlab.Gitlab(url, private_token=env["ROOT_TOKEN"])
    sudo = gitlab.Gitlab(url, private_token=env["SUDO_TOKEN"])
    alice = gitlab.Gitlab(url, private_token=env["ALICE_TOKEN"])
    group_id = int(env["GROUP_ID"])
    out = {}

    for i in range(25):
        gl.projects.create({"name": "bulk-%02d" % i, "namespace_id": group_id})

    out["search"] = sorted(p.path for p in gl.projects.list(search="bulk-1", get_all=True))
    out["get_all"] = sorted(p.id for p in gl.projects.list(get_all=True))
    out["iterator"] = sorted(p.id for p in gl.projects.list(iterator=True, per_page=7))
    out["first_page"] = len(gl.projects.list())
    keyset = gl.projects.list(pagination="keyset", order_by="id", sort="asc", per_page=4, iterator=True)
    out["keyset"] = [p.id for p in keyset]
    out["keyset_bad_order"] = outcome(lambda: gl.projects.list(pagination="keyset", order_by="name", get_all=True))

    sudo_alice = gitlab.Gitlab(url, private_token=env["SUDO_TOKEN"])
    sudo_alice.headers["Sudo"] = "alice"
    sudo_alice.auth()
    out["sudo_header_user"] = sudo_alice.user.username
    out["sudo_param_user"] = sudo.http_get("/user", query_data={"sudo": "alice"})["username"]
    out["sudo_on_call"] = sudo.projects.create({"name": "made-by-alice"}, sudo="alice").namespace["full_path"]
    out["sudo_not_admin"] = outcome(lambda: alice.http_get("/user", query_data={"sudo": "root"}))
    out["sudo_without_scope"] = outcome(lambda: gl.http_get("/user", query_data={"sudo": "alice"}))
    out["sudo_unknown"] = outcome(lambda: sudo.http_get("/user", query_data={"sudo": "nobody"}))

    project = gl.projects.get(gl.projects.list(search="bulk-00")[0].id)
    out["create_missing"] = outcome(lambda: project.deploytokens.create({"name": "x", "scopes": []}))
    out["create_bad_scope"] = outcome(lambda: project.deploytokens.create({"name": "x", "scopes": ["api"]}))
    out["list_bad_filter"] = outcome(lambda: gl.projects.list(statistics=True))
    # python-gitlab sends multipart/form-data when a file is attached.
    avatar = os.path.join(env["HOME"], "avatar.png")
    with open(avatar, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
    with open(avatar, "rb") as f:
        out["avatar"] = outcome(lambda: gl.projects.create({"name": "with-avatar", "avatar": f}).id)
    out["avatar_created"] = len(gl.projects.list(search="with-avatar"))
    print(json.dumps(out))


main()
