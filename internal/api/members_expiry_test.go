package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestMemberExpiry: a membership's expires_at (GitLab's) is stored, shown, kept by a change that
// does not name it, cleared by an empty one, refused in the past, and ends the access from
// 00:00 UTC on its date.
func TestMemberExpiry(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	child := f.Projects["child"]
	temp := newUser(t, ts, "temp")
	members := fmt.Sprintf("/projects/%d/members", child.ID)
	tomorrow := ts.Clock.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	yesterday := ts.Clock.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)

	type member struct {
		AccessLevel int     `json:"access_level"`
		ExpiresAt   *string `json:"expires_at"`
	}
	r := asPAT(t, ts, ts.RootToken, "POST", members, map[string]any{"user_id": temp.ID, "access_level": 30, "expires_at": yesterday})
	mustStatus(t, r, http.StatusBadRequest, "add with a past expiry")
	var m member
	ts.MustAPI(t, http.StatusCreated, "POST", members, map[string]any{"user_id": temp.ID, "access_level": 30, "expires_at": tomorrow}, &m)
	if m.ExpiresAt == nil || *m.ExpiresAt != tomorrow {
		t.Fatalf("created member %+v, want expires_at %s", m, tomorrow)
	}
	ts.MustAPI(t, http.StatusOK, "PUT", fmt.Sprintf("%s/%d", members, temp.ID), map[string]any{"access_level": 20}, &m)
	if m.AccessLevel != 20 || m.ExpiresAt == nil || *m.ExpiresAt != tomorrow {
		t.Fatalf("after a change without expires_at: %+v, want level 20 and the expiry kept", m)
	}
	project := fmt.Sprintf("/projects/%d", child.ID)
	mustStatus(t, asPAT(t, ts, temp.PAT, "GET", project, nil), http.StatusOK, "member before expiry")

	// From 00:00 UTC on the date the membership grants nothing and is no longer listed.
	ts.Clock.Advance(48 * time.Hour)
	mustStatus(t, asPAT(t, ts, temp.PAT, "GET", project, nil), http.StatusNotFound, "member after expiry")
	var list []struct {
		ID int64 `json:"id"`
	}
	ts.MustAPI(t, http.StatusOK, "GET", members, nil, &list)
	for _, x := range list {
		if x.ID == temp.ID {
			t.Fatal("an expired member is still listed")
		}
	}
	ts.MustAPI(t, http.StatusOK, "GET", members+"/all", nil, &list)
	for _, x := range list {
		if x.ID == temp.ID {
			t.Fatal("an expired member is still listed in members/all")
		}
	}

	// An empty expires_at clears an expiry.
	second := newUser(t, ts, "second")
	later := ts.Clock.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	ts.MustAPI(t, http.StatusCreated, "POST", members, map[string]any{"user_id": second.ID, "access_level": 30, "expires_at": later}, &m)
	ts.MustAPI(t, http.StatusOK, "PUT", fmt.Sprintf("%s/%d", members, second.ID), map[string]any{"access_level": 30, "expires_at": ""}, &m)
	if m.ExpiresAt != nil {
		t.Fatalf("after clearing: %+v", m)
	}
}

// TestMemberUserIDNotInteger: a non-integer user_id is a 400, as GitLab's Integer parameter.
func TestMemberUserIDNotInteger(t *testing.T) {
	t.Parallel()
	ts := testenv.StartServer(t)
	f := ts.MakeFixture(t)
	for _, path := range []string{fmt.Sprintf("/projects/%d/members/abc", f.Projects["child"].ID), fmt.Sprintf("/groups/%d/members/abc", f.GroupID),
		fmt.Sprintf("/groups/%d/members/all/abc", f.GroupID)} {
		mustStatus(t, asPAT(t, ts, ts.RootToken, "GET", path, nil), http.StatusBadRequest, path)
	}
}
