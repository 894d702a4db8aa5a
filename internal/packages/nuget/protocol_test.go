package nuget_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// These tests speak the v3 protocol as dotnet nuget / nuget.exe 6 do (no such client runs here:
// Debian's nuget.exe 2.8.7 only speaks v2, see client_test.go): requests are built as those
// clients send them (multipart push with X-NuGet-ApiKey and X-NuGet-Client-Version; basic auth
// with the deploy token's username on reads).

type serviceIndexDoc struct {
	Version   string `json:"version"`
	Resources []struct {
		ID   string `json:"@id"`
		Type string `json:"@type"`
	} `json:"resources"`
}

func (d serviceIndexDoc) resource(t *testing.T, typ string) string {
	t.Helper()
	for _, r := range d.Resources {
		if r.Type == typ {
			return r.ID
		}
	}
	t.Fatalf("the service index has no %s", typ)
	return ""
}

type registrationDoc struct {
	Count int `json:"count"`
	Items []struct {
		Lower, Upper string
		Count        int
		Items        []leafDoc `json:"items"`
	} `json:"items"`
}

type leafDoc struct {
	ID             string `json:"@id"`
	PackageContent string `json:"packageContent"`
	CatalogEntry   struct {
		ID               string   `json:"id"`
		Version          string   `json:"version"`
		Description      string   `json:"description"`
		Authors          string   `json:"authors"`
		Tags             []string `json:"tags"`
		ProjectURL       string   `json:"projectUrl"`
		Listed           bool     `json:"listed"`
		PackageContent   string   `json:"packageContent"`
		DependencyGroups []struct {
			TargetFramework string `json:"targetFramework"`
			Dependencies    []struct {
				ID    string `json:"id"`
				Range string `json:"range"`
			} `json:"dependencies"`
		} `json:"dependencyGroups"`
	} `json:"catalogEntry"`
}

type searchDoc struct {
	TotalHits int `json:"totalHits"`
	Data      []struct {
		ID       string `json:"id"`
		Version  string `json:"version"`
		Versions []struct {
			ID      string `json:"@id"`
			Version string `json:"version"`
		} `json:"versions"`
	} `json:"data"`
}

// TestV3PushRestore follows dotnet nuget push and restore through the v3 feed: service index,
// push, flat container, registrations, search, download, duplicate refusal.
func TestV3PushRestore(t *testing.T) {
	e := start(t)
	writer := e.token(t, e.projectOwner("top"), rw...)
	reader := e.token(t, e.projectOwner("top"), "read_package_registry")
	rc := basic(reader.Username, reader.Token)

	// The service index needs no credentials (dotnet nuget push reads it with only an API key).
	var idx serviceIndexDoc
	if st := getJSON(t, e.feed("top")+"/index.json", cred{}, &idx); st != 200 || idx.Version != "3.0.0" {
		t.Fatalf("index.json: %d %+v", st, idx)
	}
	publish := idx.resource(t, "PackagePublish/2.0.0")
	flat := idx.resource(t, "PackageBaseAddress/3.0.0")
	reg := idx.resource(t, "RegistrationsBaseUrl/3.6.0")
	search := idx.resource(t, "SearchQueryService/3.5.0")
	for _, typ := range []string{"RegistrationsBaseUrl", "RegistrationsBaseUrl/3.0.0-beta", "SearchQueryService", "SearchQueryService/3.0.0-beta"} {
		idx.resource(t, typ)
	}
	if publish != e.feed("top") {
		t.Fatalf("PackagePublish is %s", publish)
	}

	pkgs := map[string][]byte{}
	for _, v := range []string{"1.0.0", "1.02.0.0-Beta", "2.0.0+build.7"} {
		pkgs[v] = nupkg(t, "Gatehouse.Tool", v, "tool "+v, nil)
		if st, body := push(t, publish, apiKey(writer.Token), pkgs[v]); st != http.StatusCreated {
			t.Fatalf("push %s: %d %s", v, st, body)
		}
	}
	// Basic auth with the deploy token's username pushes too.
	if st, body := push(t, publish, basic(writer.Username, writer.Token), nupkg(t, "Gatehouse.Other", "0.1.0", "other", nil)); st != http.StatusCreated {
		t.Fatalf("push with basic auth: %d %s", st, body)
	}

	var versions struct{ Versions []string }
	if st := getJSON(t, flat+"gatehouse.tool/index.json", rc, &versions); st != 200 ||
		strings.Join(versions.Versions, ",") != "1.0.0,1.2.0-beta,2.0.0" {
		t.Fatalf("flat container versions: %d %v", st, versions)
	}
	for v, key := range map[string]string{"1.0.0": "1.0.0", "1.02.0.0-Beta": "1.2.0-beta", "2.0.0+build.7": "2.0.0"} {
		status, hdr, body := do(t, http.MethodGet, flat+"gatehouse.tool/"+key+"/gatehouse.tool."+key+".nupkg", rc, "", nil)
		if status != 200 || !bytes.Equal([]byte(body), pkgs[v]) || hdr.Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("download %s: %d", key, status)
		}
	}

	var r registrationDoc
	if st := getJSON(t, reg+"gatehouse.tool/index.json", rc, &r); st != 200 || r.Count != 1 || r.Items[0].Count != 3 ||
		r.Items[0].Lower != "1.0.0" || r.Items[0].Upper != "2.0.0" {
		t.Fatalf("registration: %d %+v", st, r)
	}
	l := r.Items[0].Items[1]
	ce := l.CatalogEntry
	if ce.ID != "Gatehouse.Tool" || ce.Version != "1.2.0-Beta" || ce.Description != "tool 1.02.0.0-Beta" || !ce.Listed ||
		ce.ProjectURL != "https://example.com/project" || strings.Join(ce.Tags, ",") != "gatehouse,test" ||
		len(ce.DependencyGroups) != 1 || ce.DependencyGroups[0].TargetFramework != ".NETFramework4.5" ||
		ce.DependencyGroups[0].Dependencies[0].ID != "Newtonsoft.Json" || ce.DependencyGroups[0].Dependencies[0].Range != "[13.0.1, )" ||
		l.PackageContent != flat+"gatehouse.tool/1.2.0-beta/gatehouse.tool.1.2.0-beta.nupkg" {
		t.Fatalf("registration leaf: %+v", l)
	}
	if r.Items[0].Items[2].CatalogEntry.Version != "2.0.0+build.7" {
		t.Fatalf("SemVer 2 metadata lost: %+v", r.Items[0].Items[2].CatalogEntry)
	}
	var leaf leafDoc
	if st := getJSON(t, l.ID, rc, &leaf); st != 200 || leaf.CatalogEntry.Version != "1.2.0-Beta" || leaf.PackageContent != l.PackageContent {
		t.Fatalf("leaf %s: %d %+v", l.ID, st, leaf)
	}
	// A version spelled another way names the same leaf.
	if st := getJSON(t, reg+"Gatehouse.Tool/1.2.0-BETA.json", rc, &leaf); st != 200 {
		t.Fatalf("leaf by another spelling: %d", st)
	}

	var s searchDoc
	if st := getJSON(t, search+"?q=tool&skip=0&take=20&prerelease=true&semVerLevel=2.0.0", rc, &s); st != 200 || s.TotalHits != 1 ||
		s.Data[0].ID != "Gatehouse.Tool" || s.Data[0].Version != "2.0.0+build.7" || len(s.Data[0].Versions) != 3 {
		t.Fatalf("search: %d %+v", st, s)
	}
	if st := getJSON(t, search+"?q=&prerelease=false", rc, &s); st != 200 || s.TotalHits != 2 || len(s.Data[1].Versions) != 2 {
		t.Fatalf("search without prereleases: %d %+v", st, s)
	}
	if st := getJSON(t, search+"?q=gatehouse&skip=1&take=1", rc, &s); st != 200 || s.TotalHits != 2 || len(s.Data) != 1 || s.Data[0].ID != "Gatehouse.Tool" {
		t.Fatalf("search paging: %d %+v", st, s)
	}

	t.Run("fail/duplicate version is 409 and keeps the first", func(t *testing.T) {
		for _, v := range []string{"1.0.0", "1.0", "1.0.0.0", "1.2.0-BETA"} {
			if st, body := push(t, publish, apiKey(writer.Token), nupkg(t, "gatehouse.TOOL", v, "overwritten", nil)); st != http.StatusConflict ||
				!strings.Contains(body, "already exists") {
				t.Fatalf("re-push %s: %d %s", v, st, body)
			}
		}
		status, _, body := do(t, http.MethodGet, flat+"gatehouse.tool/1.0.0/gatehouse.tool.1.0.0.nupkg", rc, "", nil)
		if status != 200 || !bytes.Equal([]byte(body), pkgs["1.0.0"]) {
			t.Fatal("the first 1.0.0 was replaced")
		}
	})
	t.Run("fail/read errors", func(t *testing.T) {
		for u, want := range map[string]int{
			flat + "nope/index.json":                                  404,
			flat + "gatehouse.tool/9.9.9/gatehouse.tool.9.9.9.nupkg":  404,
			flat + "gatehouse.tool/1.0.0/gatehouse.other.1.0.0.nupkg": 404,
			reg + "gatehouse.tool/9.9.9.json":                         404,
			search + "?take=0":                                        400,
			search + "?skip=-1":                                       400,
			search + "?prerelease=maybe":                              400,
		} {
			if st, _, body := do(t, http.MethodGet, u, rc, "", nil); st != want {
				t.Errorf("GET %s: %d %s, want %d", u, st, body, want)
			}
		}
		if st, _, _ := do(t, http.MethodDelete, flat+"gatehouse.tool/index.json", basic(writer.Username, writer.Token), "", nil); st != 405 {
			t.Errorf("DELETE: %d", st)
		}
	})
	t.Run("fail/anonymous reads are challenged", func(t *testing.T) {
		st, hdr, _ := do(t, http.MethodGet, flat+"gatehouse.tool/index.json", cred{}, "", nil)
		if st != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic realm=") {
			t.Fatalf("anonymous: %d %v", st, hdr)
		}
		// Also for a project that does not exist: nothing tells the two apart.
		st, hdr, _ = do(t, http.MethodGet, e.ts.URL+"/api/v4/projects/9999/packages/nuget/download/a/index.json", cred{}, "", nil)
		if st != 401 || hdr.Get("WWW-Authenticate") == "" {
			t.Fatalf("anonymous, unknown project: %d", st)
		}
	})
}

// TestV2Feed checks the OData documents nuget.exe 2.x reads, beyond what client_test.go drives.
func TestV2Feed(t *testing.T) {
	e := start(t)
	v2 := e.feed("top") + "/v2"
	c := basic("root", e.ts.RootToken)
	for _, v := range []string{"1.0.0", "1.1.0-rc.1"} {
		if st, body := push(t, v2+"/", apiKey(e.ts.RootToken), nupkg(t, "Odata.Pkg", v, "x & <y>", nil)); st != 201 {
			t.Fatalf("push: %d %s", st, body)
		}
	}
	for u, want := range map[string][]string{
		v2:                {`<service xml:base="` + v2 + `"`, `<collection href="Packages">`},
		v2 + "/$metadata": {`EntityType Name="V2FeedPackage"`, `FunctionImport Name="FindPackagesById"`},
		v2 + "/FindPackagesById()?id='Odata.Pkg'": {`<feed xml:base=`, `<d:Version>1.0.0</d:Version>`, `<d:Version>1.1.0-rc.1</d:Version>`,
			`<d:IsLatestVersion m:type="Edm.Boolean">true</d:IsLatestVersion>`, `x &amp; &lt;y&gt;`, `src="` + v2 + `/download/odata.pkg/1.1.0-rc.1"`,
			`<d:Dependencies>Newtonsoft.Json:[13.0.1, ):.NETFramework4.5</d:Dependencies>`, `<d:PackageHashAlgorithm>SHA512</d:PackageHashAlgorithm>`},
		v2 + "/FindPackagesById()?id='nothing.here'":          {`<feed xml:base=`},
		v2 + "/Packages(Id='odata.pkg',Version='1.1.0-RC.1')": {`<entry xml:base=`, `<d:IsAbsoluteLatestVersion m:type="Edm.Boolean">true</d:IsAbsoluteLatestVersion>`, `<d:IsPrerelease m:type="Edm.Boolean">true</d:IsPrerelease>`},
	} {
		st, _, body := do(t, http.MethodGet, u, c, "", nil)
		if st != 200 {
			t.Fatalf("GET %s: %d %s", u, st, body)
		}
		mustContain(t, u, body, want...)
	}
	st, _, body := do(t, http.MethodGet, v2+"/download/odata.pkg/1.0.0", c, "", nil)
	if st != 200 || !strings.HasPrefix(body, "PK") {
		t.Fatalf("v2 download: %d", st)
	}
	if st, _, _ := do(t, http.MethodGet, v2+"/FindPackagesById()?id='../x'", c, "", nil); st != 400 {
		t.Fatalf("bad id: %d", st)
	}
}

// TestRecordedNuGetExePush replays the request body nuget.exe 2.8.7 sent (captured once with a
// throw-away server): its last line ends in a bare LF, which Go's multipart reader refuses.
func TestRecordedNuGetExePush(t *testing.T) {
	e := start(t)
	tok := e.token(t, e.projectOwner("top"), rw...)
	body, err := os.ReadFile("testdata/push-nuget287.multipart")
	if err != nil {
		t.Fatal(err)
	}
	st, _, resp := do(t, http.MethodPut, e.feed("top")+"/v2/", apiKey(tok.Token), "multipart/form-data; boundary=---------------------------8df4ad60dd28f8c", body)
	if st != 201 {
		t.Fatalf("recorded push: %d %s", st, resp)
	}
	var versions struct{ Versions []string }
	if st := getJSON(t, e.feed("top")+"/download/demo.pkg/index.json", basic(tok.Username, tok.Token), &versions); st != 200 ||
		strings.Join(versions.Versions, ",") != "1.2.0-beta" {
		t.Fatalf("versions: %d %v", st, versions)
	}
}

func TestDeployTokenRules(t *testing.T) {
	e := start(t)
	publish := e.feed("grandchild")
	if st, body := push(t, publish, apiKey(e.ts.RootToken), nupkg(t, "Deep.Pkg", "3.0.0", "deep", nil)); st != 201 {
		t.Fatalf("push: %d %s", st, body)
	}
	rt := e.token(t, e.projectOwner("grandchild"), "read_package_registry")
	download := "/download/deep.pkg/3.0.0/deep.pkg.3.0.0.nupkg"

	t.Run("fail/read-only token cannot push", func(t *testing.T) {
		for _, c := range []cred{apiKey(rt.Token), basic(rt.Username, rt.Token)} {
			st, body := push(t, publish, c, nupkg(t, "Deep.Pkg", "4.0.0", "x", nil))
			if st != 403 || !strings.Contains(body, "lacks the write_package_registry scope") || strings.Contains(body, rt.Token) {
				t.Fatalf("read-only push: %d %s", st, body)
			}
		}
	})
	t.Run("fail/deploy token under another username", func(t *testing.T) {
		st, hdr, body := do(t, http.MethodGet, publish+download, basic("not-"+rt.Username, rt.Token), "", nil)
		if st != 401 || hdr.Get("WWW-Authenticate") != `Basic realm="Gatehouse"` || !strings.Contains(body, "username") {
			t.Fatalf("wrong username: %d %v %s", st, hdr, body)
		}
		// A personal access token's username is not checked (GitLab's rule).
		if st, _, _ := do(t, http.MethodGet, publish+download, basic("anything", e.ts.RootToken), "", nil); st != 200 {
			t.Fatalf("PAT with any username: %d", st)
		}
	})
	groupTok := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), "read_package_registry")
	gc := basic(groupTok.Username, groupTok.Token)
	t.Run("ok/group token reaches the subgroup's project and the group feeds", func(t *testing.T) {
		for _, base := range []string{publish, e.groupFeed(e.f.GroupID), e.groupFeed(e.f.SubID)} {
			if st, _, body := do(t, http.MethodGet, base+download, gc, "", nil); st != 200 || !strings.HasPrefix(body, "PK") {
				t.Fatalf("%s: %d", base, st)
			}
		}
		var s searchDoc
		if st := getJSON(t, e.groupFeed(e.f.GroupID)+"/query?q=deep", gc, &s); st != 200 || s.TotalHits != 1 {
			t.Fatalf("group search: %d %+v", st, s)
		}
		var idx serviceIndexDoc
		getJSON(t, e.groupFeed(e.f.GroupID)+"/index.json", cred{}, &idx)
		for _, r := range idx.Resources {
			if r.Type == "PackagePublish/2.0.0" {
				t.Fatal("the group feed offers publishing")
			}
		}
		var r registrationDoc
		if st := getJSON(t, idx.resource(t, "RegistrationsBaseUrl")+"deep.pkg/index.json", gc, &r); st != 200 ||
			!strings.HasPrefix(r.Items[0].Items[0].PackageContent, e.groupFeed(e.f.GroupID)+"/download/") {
			t.Fatalf("group registration: %d %+v", st, r)
		}
		if st, _, _ := do(t, http.MethodPut, e.groupFeed(e.f.GroupID), gc, "", nil); st != 404 && st != 405 {
			t.Fatalf("group push: %d", st)
		}
	})
	t.Run("fail/other group's and other project's tokens", func(t *testing.T) {
		other := e.token(t, fmt.Sprintf("groups/%d", e.f.OtherGroupID), rw...)
		top := e.token(t, e.projectOwner("top"), rw...)
		for name, tok := range map[string]testenv.DeployToken{"other group": other, "other project": top} {
			c := basic(tok.Username, tok.Token)
			for _, u := range []string{publish + download, e.groupFeed(e.f.GroupID) + download, publish + "/metadata/deep.pkg/index.json"} {
				if st, _, _ := do(t, http.MethodGet, u, c, "", nil); st != 404 {
					t.Fatalf("%s GET %s: %d", name, u, st)
				}
			}
			if st, _ := push(t, publish, apiKey(tok.Token), nupkg(t, "Deep.Pkg", "5.0.0", "x", nil)); st != 404 {
				t.Fatalf("%s push: %d", name, st)
			}
		}
		var s searchDoc
		if st := getJSON(t, e.groupFeed(e.f.GroupID)+"/query", basic(top.Username, top.Token), &s); st != 200 || s.TotalHits != 0 {
			t.Fatalf("a project token searching the group sees %d packages (%d)", s.TotalHits, st)
		}
	})
	t.Run("fail/revoked and expired tokens", func(t *testing.T) {
		owner := e.projectOwner("grandchild")
		revoked := e.token(t, owner, rw...)
		tomorrow := e.ts.Clock.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
		expiring := e.ts.CreateDeployToken(t, owner, rw, map[string]any{"expires_at": tomorrow})
		for _, tok := range []testenv.DeployToken{revoked, expiring} {
			if st, _, _ := do(t, http.MethodGet, publish+download, basic(tok.Username, tok.Token), "", nil); st != 200 {
				t.Fatalf("before: %d", st)
			}
		}
		if err := e.ts.Server.Deploy.Revoke(context.Background(), revoked.ID); err != nil {
			t.Fatal(err)
		}
		e.ts.Clock.Advance(49 * time.Hour)
		for name, tok := range map[string]testenv.DeployToken{"revoked": revoked, "expired": expiring} {
			st, hdr, body := do(t, http.MethodGet, publish+download, basic(tok.Username, tok.Token), "", nil)
			if st != 401 || hdr.Get("WWW-Authenticate") == "" || !strings.Contains(body, name) {
				t.Fatalf("%s read: %d %s", name, st, body)
			}
			if st, body := push(t, publish, apiKey(tok.Token), nupkg(t, "Deep.Pkg", "6.0.0", "x", nil)); st != 401 {
				t.Fatalf("%s push: %d %s", name, st, body)
			}
			if strings.Contains(e.ts.Logs(), tok.Token) {
				t.Fatalf("the %s token is in the logs", name)
			}
		}
	})
}

func TestExternalAuthorization(t *testing.T) {
	e := start(t, func(c *config.Config) { c.ExternalAuthorization = true })
	tok := e.token(t, e.projectOwner("top"), rw...)
	st, body := push(t, e.feed("top"), apiKey(tok.Token), nupkg(t, "Ext.Pkg", "1.0.0", "x", nil))
	if st != 403 || !strings.Contains(body, "external authorization") {
		t.Fatalf("deploy token push: %d %s", st, body)
	}
	if st, body := push(t, e.feed("top"), apiKey(e.ts.RootToken), nupkg(t, "Ext.Pkg", "1.0.0", "x", nil)); st != 201 {
		t.Fatalf("personal access token push: %d %s", st, body)
	}
	st, _, body = do(t, http.MethodGet, e.feed("top")+"/download/ext.pkg/index.json", basic(tok.Username, tok.Token), "", nil)
	if st != 403 || !strings.Contains(body, "external authorization") {
		t.Fatalf("deploy token read: %d %s", st, body)
	}
}

func TestHostilePushes(t *testing.T) {
	const limit = 32 << 10
	e := start(t, func(c *config.Config) { c.Packages.MaxFileSize = map[string]int64{"nuget": limit} })
	tok := e.token(t, e.projectOwner("top"), rw...)
	c := apiKey(tok.Token)
	publish := e.feed("top")
	noise := make([]byte, 2*limit)
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	bombEntry := string(make([]byte, 24<<20)) // zeros: compresses about 1000:1
	cases := []struct {
		name   string
		pkg    []byte
		status int
		why    string
	}{
		{"fail/not a zip", []byte("#!/bin/sh\nrm -rf /\n"), 400, "zip"},
		{"fail/no nuspec", nupkg(t, "H.Pkg", "1.0.0", "x", map[string]string{"H.Pkg.nuspec": ""}), 400, "no .nuspec"},
		{"fail/bad xml", nupkg(t, "H.Pkg", "1.0.0", "x", map[string]string{"H.Pkg.nuspec": "<package><metadata>"}), 400, "XML"},
		{"fail/traversal entry", nupkg(t, "H.Pkg", "1.0.0", "x", map[string]string{"../../../etc/cron.d/evil": "x"}), 400, "entry name"},
		{"fail/backslash traversal entry", nupkg(t, "H.Pkg", "1.0.0", "x", map[string]string{"..\\..\\evil.dll": "x"}), 400, "entry name"},
		{"fail/traversal in the id", nupkg(t, "..%2f..%2fH", "1.0.0", "x", nil), 400, "package id"},
		{"fail/traversal in the version", nupkg(t, "H.Pkg", "1.0.0/../../x", "x", nil), 400, "version"},
		{"fail/zip bomb", nupkg(t, "H.Pkg", "1.0.0", "x", map[string]string{"lib/bomb.bin": bombEntry}), 400, "zip bomb"},
		{"fail/oversized", nupkg(t, "H.Pkg", "1.0.0", "x", map[string]string{"lib/noise.bin": string(noise)}), 413, "limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body := push(t, publish, c, tc.pkg)
			if st != tc.status || !strings.Contains(body, tc.why) {
				t.Fatalf("status %d %s; want %d mentioning %q", st, body, tc.status, tc.why)
			}
			e.assertNothingStored(t)
		})
	}
	t.Run("fail/not multipart", func(t *testing.T) {
		pkg := nupkg(t, "H.Pkg", "1.0.0", "x", nil)
		if st, _, body := do(t, http.MethodPut, publish, c, "application/octet-stream", pkg); st != 400 || !strings.Contains(body, "multipart") {
			t.Fatalf("raw body: %d %s", st, body)
		}
		e.assertNothingStored(t)
	})
	t.Run("fail/oversized body declared up front", func(t *testing.T) {
		ct, body := pushBody(t, bytes.Repeat([]byte("x"), limit+128<<10))
		if st, _, resp := do(t, http.MethodPut, publish, c, ct, body); st != 413 {
			t.Fatalf("huge body: %d %s", st, resp)
		}
		e.assertNothingStored(t)
	})
	t.Run("ok/a good package after all that", func(t *testing.T) {
		if st, body := push(t, publish, c, nupkg(t, "H.Pkg", "1.0.0", "x", nil)); st != 201 {
			t.Fatalf("good push: %d %s", st, body)
		}
	})
	if strings.Contains(e.ts.Logs(), tok.Token) {
		t.Fatal("the token is in the logs")
	}
}

func TestPostgresPushRestore(t *testing.T) {
	e := start(t, testenv.WithPostgres(t))
	tok := e.token(t, fmt.Sprintf("groups/%d", e.f.GroupID), rw...)
	pkg := nupkg(t, "Pg.Pkg", "1.0.0-Beta.2", "postgres", nil)
	if st, body := push(t, e.feed("child"), apiKey(tok.Token), pkg); st != 201 {
		t.Fatalf("push: %d %s", st, body)
	}
	if st, _ := push(t, e.feed("child"), apiKey(tok.Token), pkg); st != 409 {
		t.Fatalf("duplicate: %d", st)
	}
	c := basic(tok.Username, tok.Token)
	var versions struct{ Versions []string }
	if st := getJSON(t, e.groupFeed(e.f.GroupID)+"/download/pg.pkg/index.json", c, &versions); st != 200 || strings.Join(versions.Versions, ",") != "1.0.0-beta.2" {
		t.Fatalf("versions: %d %v", st, versions)
	}
	st, _, body := do(t, http.MethodGet, e.feed("child")+"/download/pg.pkg/1.0.0-beta.2/pg.pkg.1.0.0-beta.2.nupkg", c, "", nil)
	if st != 200 || !bytes.Equal([]byte(body), pkg) {
		t.Fatalf("download: %d", st)
	}
}
