"""Manage users and tokens as GitLab automation does, with the real python-gitlab: personal access
tokens (list, get, rotate, revoke), impersonation tokens, user update, block/ban and delete.
Print each outcome as one JSON object on stdout.

Inputs (environment): GATEHOUSE_URL, GATEHOUSE_TOKEN (an administrator's). Run by users_test.go,
which makes the assertions.
"""

import datetime
import json
import os
import sys

import gitlab


def outcome(fn):
    """Run fn; return the error's status code and message, or code 0 and fn's result."""
    try:
        return {"code": 0, "result": fn()}
    except gitlab.exceptions.GitlabError as e:
        return {"code": e.response_code, "message": str(e.error_message)}


def whoami(url, tok):
    return outcome(lambda: gitlab.Gitlab(url, private_token=tok).http_get("/user")["username"])


def main():
    url, root_token = os.environ["GATEHOUSE_URL"], os.environ["GATEHOUSE_TOKEN"]
    gl = gitlab.Gitlab(url, private_token=root_token)
    out = {}
    user = gl.users.create({"username": "alice", "email": "alice@example.com", "name": "Alice",
                            "password": "alice-password-1"})
    out["user_id"] = user.id
    pat = user.personal_access_tokens.create({"name": "alice-ci", "scopes": ["api"]})
    other = user.personal_access_tokens.create({"name": "alice-read", "scopes": ["read_api"]})
    as_alice = gitlab.Gitlab(url, private_token=pat.token)

    # Impersonation: an admin's token that acts as alice, hidden from alice's own list.
    # As python-gitlab's own functional test: api and read_user, expiring in four days.
    future = (datetime.date.today() + datetime.timedelta(days=4)).isoformat()
    imp = user.impersonationtokens.create({"name": "support", "scopes": ["api", "read_user"], "expires_at": future})
    out["imp_created"] = {"impersonation": imp.impersonation, "has_token": bool(getattr(imp, "token", ""))}
    out["imp_whoami"] = whoami(url, imp.token)
    out["imp_list_active"] = [t.id for t in user.impersonationtokens.list(state="active")]
    out["imp_get"] = user.impersonationtokens.get(imp.id).impersonation

    # Listing: alice sees her own (not the impersonation token); root filters by user.
    out["alice_list"] = sorted(t.id for t in as_alice.personal_access_tokens.list(get_all=True))
    out["alice_list_other_user"] = outcome(lambda: as_alice.personal_access_tokens.list(user_id=1))
    out["root_list_alice"] = sorted(t.id for t in gl.personal_access_tokens.list(user_id=user.id, get_all=True))
    out["root_list_search"] = [t.name for t in gl.personal_access_tokens.list(user_id=user.id, search="READ", get_all=True)]
    out["root_list_bogus_revoked"] = outcome(lambda: gl.personal_access_tokens.list(revoked="bogus"))
    out["ids"] = {"pat": pat.id, "other": other.id, "imp": imp.id}

    # Revoking the impersonation token ends its sessions.
    imp.delete()
    out["imp_whoami_after_revoke"] = whoami(url, imp.token)
    out["imp_list_inactive"] = [t.id for t in user.impersonationtokens.list(state="inactive")]

    # Rotation: the old secret stops working, the new one works; python-gitlab 3.12 has no
    # rotate() yet, so the call is made as it would make it.
    rotated = outcome(lambda: as_alice.http_post(f"/personal_access_tokens/{other.id}/rotate", post_data={"expires_at": "2099-01-01"}))
    out["rotate"] = {"code": rotated["code"], "expires_at": rotated.get("result", {}).get("expires_at"),
                     "new_id": rotated.get("result", {}).get("id"), "same_name": rotated.get("result", {}).get("name") == "alice-read"}
    out["rotate_old_whoami"] = whoami(url, other.token)
    new_secret = rotated.get("result", {}).get("token", "")
    out["rotate_new_whoami"] = whoami(url, new_secret)
    out["rotate_again_old"] = outcome(lambda: as_alice.http_post(f"/personal_access_tokens/{other.id}/rotate"))
    out["get_rotated_old"] = outcome(lambda: as_alice.http_get(f"/personal_access_tokens/{other.id}")["revoked"])
    out["self_rotate_read_api"] = outcome(lambda: gitlab.Gitlab(url, private_token=new_secret).http_post("/personal_access_tokens/self/rotate"))
    selfie = user.personal_access_tokens.create({"name": "alice-self", "scopes": ["api"]})
    self_rot = outcome(lambda: gitlab.Gitlab(url, private_token=selfie.token).http_post("/personal_access_tokens/self/rotate"))
    out["self_rotate"] = {"code": self_rot["code"], "has_expiry": bool(self_rot.get("result", {}).get("expires_at"))}
    out["self_rotate_old_whoami"] = whoami(url, selfie.token)

    # Revocation: root revokes through the manager; alice cannot touch root's tokens.
    out["alice_get_root_token"] = outcome(lambda: as_alice.http_get("/personal_access_tokens/1"))
    out["alice_revoke_root_token"] = outcome(lambda: as_alice.personal_access_tokens.delete(1))
    out["root_revoke_missing"] = outcome(lambda: gl.personal_access_tokens.delete(999999))
    if self_rot["code"] == 0:
        gl.personal_access_tokens.delete(self_rot["result"]["id"])
        out["revoked_whoami"] = whoami(url, self_rot["result"]["token"])

    # User administration.
    u = gl.users.get(user.id)
    u.name = "Alice Liddell"
    u.email = "alice@wonderland.example"
    out["save"] = outcome(lambda: u.save() and None)
    out["saved_name"] = gl.users.get(user.id).name
    out["update_taken_username"] = outcome(lambda: gl.users.update(user.id, {"username": "root", "email": u.email, "name": u.name}))
    out["update_unsupported"] = outcome(lambda: gl.users.update(user.id, {"projects_limit": 3, "username": u.username, "email": u.email, "name": u.name}))
    # As python-gitlab's own functional test: a bio set through save().
    u.bio = "This is the user bio"
    u.save()
    out["bio"] = gl.users.get(user.id).bio
    out["block"] = outcome(lambda: u.block())
    out["block_again"] = outcome(lambda: u.block())
    out["blocked_state"] = gl.users.get(user.id).state
    out["blocked_whoami"] = whoami(url, pat.token)
    out["ban_blocked"] = outcome(lambda: u.ban())
    out["unblock"] = outcome(lambda: u.unblock())
    out["unblock_again"] = outcome(lambda: u.unblock())
    out["ban"] = outcome(lambda: u.ban())
    out["banned_state"] = gl.users.get(user.id).state
    out["banned_whoami"] = whoami(url, pat.token)
    out["unban"] = outcome(lambda: u.unban())
    out["unban_again"] = outcome(lambda: u.unban())
    out["active_whoami"] = whoami(url, pat.token)
    out["root_blocks_self"] = outcome(lambda: gl.users.get(1).block())

    # Projects and memberships.
    project = as_alice.projects.create({"name": "notes"})
    group = gl.groups.create({"name": "wonder", "path": "wonder"})
    group.members.create({"user_id": user.id, "access_level": 30})
    out["user_projects"] = [p.path_with_namespace for p in gl.users.get(user.id).projects.list()]
    out["user_projects_by_username"] = [p["path_with_namespace"] for p in gl.http_get("/users/alice/projects")]
    out["user_projects_missing"] = outcome(lambda: gl.http_get("/users/nobody-here/projects"))
    out["memberships"] = sorted((m.source_type, m.access_level) for m in gl.users.get(user.id).memberships.list())
    out["memberships_namespace"] = [m.source_id for m in gl.users.get(user.id).memberships.list(type="Namespace")]
    out["alice_memberships"] = outcome(lambda: as_alice.users.get(user.id).memberships.list())
    out["alice_blocks_root"] = outcome(lambda: as_alice.users.get(1, lazy=True).block())

    # Deletion: refused while the user is a group's sole owner; then done, and the tokens go.
    bob = gl.users.create({"username": "bob", "email": "bob@example.com", "name": "Bob", "password": "bob-password-1"})
    bob_pat = bob.personal_access_tokens.create({"name": "bob", "scopes": ["api"]})
    group.members.create({"user_id": bob.id, "access_level": 50})
    group.members.delete(1)  # root, the group's creator and so its Owner (as GitLab), leaves bob alone
    out["delete_sole_owner"] = outcome(lambda: bob.delete())
    group.members.update(user.id, {"access_level": 50})
    out["delete"] = outcome(lambda: bob.delete())
    out["deleted_get"] = outcome(lambda: gl.users.get(bob.id).username)
    out["deleted_whoami"] = whoami(url, bob_pat.token)
    out["deleted_members"] = [m.id for m in group.members.list(get_all=True)]
    # alice, now the group's sole owner, with a personal project: hard_delete takes the group too,
    # and her personal project goes with her either way (as GitLab).
    out["delete_alice_sole_owner"] = outcome(lambda: gl.users.delete(user.id))
    out["delete_alice_hard"] = outcome(lambda: gl.users.delete(user.id, hard_delete=True))
    out["deleted_alice_project"] = outcome(lambda: gl.projects.get(project.id).path)
    out["deleted_alice_group"] = outcome(lambda: gl.groups.get(group.id).path)
    out["delete_self"] = outcome(lambda: gl.users.delete(1))
    json.dump(out, sys.stdout)


main()
