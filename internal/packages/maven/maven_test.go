package maven_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// The real client is Debian's mvn (3.8.7) working offline: every plugin comes from Debian's
// /usr/share/maven-repo (packages libmaven-deploy-plugin-java, libmaven-install-plugin-java,
// libmaven-resources-plugin-java, libmaven-compiler-plugin-java, libmaven-jar-plugin-java,
// libsurefire-java) through a settings.xml mirror, and only the repository "gatehouse" is
// fetched over HTTP, from the test server.

const debianRepo = "/usr/share/maven-repo"

// deployFile is the goal that deploys a file without a build.
const deployFile = "org.apache.maven.plugins:maven-deploy-plugin:3.0.0:deploy-file"

// pinned are the plugin versions Debian ships; the POMs pin them so nothing asks for others.
var pinned = []struct{ artifact, version string }{
	{"maven-resources-plugin", "3.3.0"}, {"maven-compiler-plugin", "3.10.1"}, {"maven-surefire-plugin", "2.22.3"},
	{"maven-jar-plugin", "3.3.0"}, {"maven-install-plugin", "3.1.0"}, {"maven-deploy-plugin", "3.0.0"},
}

// env is a booted server with the fixture tree (group/top, group/sub/child,
// group/sub/subsub/grandchild, other/sibling), and a groupId of its own.
type env struct {
	ts      *testenv.TestServer
	f       testenv.Fixture
	groupID string
}

func start(t *testing.T, opts ...testenv.ServerOption) *env {
	t.Helper()
	ts, f := testenv.StartWithFixture(t, opts...)
	return &env{ts: ts, f: f, groupID: "com.example.t" + randomHex(t, 4)}
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// nameAfter makes the env's groupId the full path of project ("group.sub.child"), so that its
// artifacts follow the instance-level naming convention: the instance endpoint serves a
// package only from the project its path names (docs/maven.md).
func (e *env) nameAfter(project string) {
	e.groupID = strings.ReplaceAll(e.f.Projects[project].FullPath, "/", ".")
}

// groupPath is the env's groupId as a path.
func (e *env) groupPath() string { return strings.ReplaceAll(e.groupID, ".", "/") }

func (e *env) projectRepo(project string) string {
	return fmt.Sprintf("%s/api/v4/projects/%d/packages/maven", e.ts.URL, e.f.Projects[project].ID)
}

func (e *env) groupRepo(id int64) string {
	return fmt.Sprintf("%s/api/v4/groups/%d/-/packages/maven", e.ts.URL, id)
}

func (e *env) instanceRepo() string { return e.ts.URL + "/api/v4/packages/maven" }

// credential is how settings.xml presents a secret for the server "gatehouse".
type credential struct {
	header string // Deploy-Token or Private-Token; empty for basic auth
	user   string
	secret string
}

func deployHeader(secret string) credential {
	return credential{header: "Deploy-Token", secret: secret}
}

func basic(user, secret string) credential { return credential{user: user, secret: secret} }

// maven is one mvn user: its own HOME, settings.xml and local repository.
type maven struct {
	bin      string
	dir      string
	settings string
	repo     string
}

// newMaven writes a settings.xml that takes every plugin from Debian's repository and presents
// cred to the server "gatehouse" (GitLab's documented <httpHeaders> form, or basic auth).
func newMaven(t *testing.T, cred credential) *maven {
	t.Helper()
	bin := testenv.Binary(t, "mvn")
	testenv.Binary(t, "javac") // the library and consumer projects compile
	for _, p := range pinned {
		if _, err := os.Stat(filepath.Join(debianRepo, "org/apache/maven/plugins", p.artifact, p.version)); err != nil {
			testenv.Missing(t, "%s %s is not in %s (Debian's libmaven-*-plugin-java and libsurefire-java packages)", p.artifact, p.version, debianRepo)
		}
	}
	dir := t.TempDir()
	server := "<username>" + cred.user + "</username><password>" + cred.secret + "</password>"
	if cred.header != "" {
		server = "<configuration><httpHeaders><property><name>" + cred.header + "</name><value>" + cred.secret +
			"</value></property></httpHeaders></configuration>"
	}
	m := &maven{bin: bin, dir: dir, settings: filepath.Join(dir, "settings.xml"), repo: filepath.Join(dir, "repository")}
	settings := `<settings>
  <localRepository>` + m.repo + `</localRepository>
  <interactiveMode>false</interactiveMode>
  <mirrors>
    <mirror><id>debian</id><mirrorOf>*,!gatehouse</mirrorOf><url>file://` + debianRepo + `</url></mirror>
  </mirrors>
  <servers>
    <server><id>gatehouse</id>` + server + `</server>
  </servers>
</settings>
`
	writeFile(t, m.settings, settings)
	writeFile(t, filepath.Join(dir, "global-settings.xml"), "<settings/>\n")
	return m
}

func writeFile(t testing.TB, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// run runs mvn in dir and returns its output and exit code.
func (m *maven) run(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	all := append([]string{"-B", "--no-transfer-progress", "-s", m.settings, "-gs", filepath.Join(m.dir, "global-settings.xml")}, args...)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + m.dir,
		// A short-lived JVM: the quick compiler tier and a small heap start it faster.
		"MAVEN_OPTS=-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx512m"}
	if jh := os.Getenv("JAVA_HOME"); jh != "" {
		env = append(env, "JAVA_HOME="+jh)
	}
	return testenv.RunClient(t, 4*time.Minute, dir, env, m.bin, all...)
}

func (m *maven) mustRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, code := m.run(t, dir, args...)
	if code != 0 {
		t.Fatalf("mvn %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func pluginsXML() string {
	var b strings.Builder
	for _, p := range pinned {
		fmt.Fprintf(&b, "<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>%s</artifactId><version>%s</version></plugin>\n", p.artifact, p.version)
	}
	return b.String()
}

const pomHead = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <properties>
    <maven.compiler.source>17</maven.compiler.source>
    <maven.compiler.target>17</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
`

// library writes a jar project groupID:artifact:version whose class returns greeting, deploying
// to repoURL.
func library(t *testing.T, groupID, artifact, version, greeting, repoURL string) string {
	t.Helper()
	dir := t.TempDir()
	pkg := strings.ReplaceAll(groupID, "-", "_")
	pom := pomHead + fmt.Sprintf(`  <groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version><packaging>jar</packaging>
  <build><plugins>%s</plugins></build>
  <distributionManagement>
    <repository><id>gatehouse</id><url>%s</url></repository>
    <snapshotRepository><id>gatehouse</id><url>%s</url></snapshotRepository>
  </distributionManagement>
</project>
`, groupID, artifact, version, pluginsXML(), repoURL, repoURL)
	writeFile(t, filepath.Join(dir, "pom.xml"), pom)
	writeFile(t, filepath.Join(dir, "src/main/java", strings.ReplaceAll(pkg, ".", "/"), "Greeter.java"),
		fmt.Sprintf("package %s;\npublic class Greeter { public static String greet() { return %q; } }\n", pkg, greeting))
	return dir
}

// consumer writes a project that depends on groupID:artifact:version from repoURL and calls it,
// so `mvn compile` needs the deployed jar.
func consumer(t *testing.T, groupID, artifact, version, repoURL string) string {
	t.Helper()
	dir := t.TempDir()
	pkg := strings.ReplaceAll(groupID, "-", "_")
	pom := pomHead + fmt.Sprintf(`  <groupId>org.consumer</groupId><artifactId>app</artifactId><version>1</version>
  <dependencies><dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version></dependency></dependencies>
  <repositories><repository><id>gatehouse</id><url>%s</url>
    <snapshots><enabled>true</enabled><updatePolicy>always</updatePolicy></snapshots></repository></repositories>
  <build><plugins>%s</plugins></build>
</project>
`, groupID, artifact, version, repoURL, pluginsXML())
	writeFile(t, filepath.Join(dir, "pom.xml"), pom)
	writeFile(t, filepath.Join(dir, "src/main/java/org/consumer/App.java"),
		fmt.Sprintf("package org.consumer;\npublic class App { public static void main(String[] a) { System.out.println(%s.Greeter.greet()); } }\n", pkg))
	return dir
}

// result is one HTTP answer.
type result struct {
	status int
	body   []byte
	header http.Header
}

// do sends one request to the test server, with headers given as name, value pairs.
func (e *env) do(t testing.TB, method, url string, body []byte, headers ...string) result {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: b, header: resp.Header}
}

func basicHeader(user, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

// version returns a stored Maven version of project, with its files.
func (e *env) version(t testing.TB, project, name, version string) *packages.Version {
	t.Helper()
	ctx := context.Background()
	pkg, err := e.ts.Server.Packages.Package(ctx, e.f.Projects[project].ID, packages.Maven, name)
	if err != nil {
		t.Fatalf("package %s in %s: %v", name, project, err)
	}
	v, err := e.ts.Server.Packages.Version(ctx, pkg, version)
	if err != nil {
		t.Fatalf("version %s of %s: %v", version, name, err)
	}
	return v
}

// assertNothingStored fails unless no project holds a Maven package and the blob store holds no
// blob and no upload in progress.
func (e *env) assertNothingStored(t testing.TB) {
	t.Helper()
	e.ts.AssertNoPackages(t, e.f, packages.Maven)
}

// localJar is the jar a consumer resolved into its local repository.
func localJar(t *testing.T, m *maven, groupID, artifact, version string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(m.repo, strings.ReplaceAll(groupID, ".", "/"), artifact, version, artifact+"-"+version+".jar"))
	if err != nil {
		t.Fatalf("the consumer did not resolve the jar: %v", err)
	}
	return b
}

// TestMavenDeployAndResolve drives the real mvn: deploy with a write_package_registry deploy token
// (GitLab's <httpHeaders> Deploy-Token form), resolve with read_package_registry tokens through
// the group and instance endpoints (basic auth after a 401 challenge), SNAPSHOT re-deploys
// replace, release re-deploys and read-only tokens are refused.
func TestMavenDeployAndResolve(t *testing.T) {
	e := start(t)
	e.nameAfter("child")
	child := e.f.Projects["child"]
	writer := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", child.ID), []string{"read_package_registry", "write_package_registry"}, nil)
	groupReader := e.ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", e.f.GroupID), []string{"read_package_registry"}, nil)
	projectReader := e.ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", child.ID), []string{"read_package_registry"}, nil)
	deployer := newMaven(t, deployHeader(writer.Token))
	name := e.groupPath() + "/hello"
	var outputs []string

	t.Run("ok/mvn deploy of a SNAPSHOT with a Deploy-Token header", func(t *testing.T) {
		lib := library(t, e.groupID, "hello", "1.0-SNAPSHOT", "hello one", e.projectRepo("child"))
		out := deployer.mustRun(t, lib, "deploy")
		outputs = append(outputs, out)
		v := e.version(t, "child", name, "1.0-SNAPSHOT")
		var jars, poms int
		for _, f := range v.Files {
			switch {
			case strings.HasSuffix(f.Filename, ".jar"):
				jars++
			case strings.HasSuffix(f.Filename, ".pom"):
				poms++
			}
		}
		if jars != 1 || poms != 1 || v.File("maven-metadata.xml") == nil {
			t.Fatalf("stored files: %+v", v.Files)
		}
		if !strings.Contains(string(v.Metadata), `"app_group":"`+e.groupID+`"`) {
			t.Fatalf("version metadata %s", v.Metadata)
		}
		listing := e.version(t, "child", name, "@maven-metadata")
		if listing.Status != packages.StatusHidden || listing.File("maven-metadata.xml") == nil {
			t.Fatalf("artifact metadata version: %+v", listing)
		}
	})

	groupConsumer := newMaven(t, deployHeader(groupReader.Token))
	t.Run("ok/a group read token resolves through the group endpoint", func(t *testing.T) {
		app := consumer(t, e.groupID, "hello", "1.0-SNAPSHOT", e.groupRepo(e.f.GroupID))
		outputs = append(outputs, groupConsumer.mustRun(t, app, "-U", "compile"))
		if _, err := os.Stat(filepath.Join(app, "target/classes/org/consumer/App.class")); err != nil {
			t.Fatal("the consumer did not compile against the deployed jar")
		}
	})

	t.Run("ok/basic auth after a 401 challenge, instance endpoint", func(t *testing.T) {
		m := newMaven(t, basic(projectReader.Username, projectReader.Token))
		app := consumer(t, e.groupID, "hello", "1.0-SNAPSHOT", e.instanceRepo())
		outputs = append(outputs, m.mustRun(t, app, "-U", "compile"))
		jar := localJar(t, m, e.groupID, "hello", "1.0-SNAPSHOT")
		if !bytes.Equal(jar, localJar(t, groupConsumer, e.groupID, "hello", "1.0-SNAPSHOT")) {
			t.Fatal("the group and instance endpoints served different jars")
		}
		// mvn sent the basic credentials only after the server's challenge.
		challenged := false
		for _, line := range strings.Split(e.ts.Logs(), "\n") {
			if strings.Contains(line, "/api/v4/packages/maven/") && (strings.Contains(line, `"status":401`) || strings.Contains(line, "status=401")) {
				challenged = true
			}
		}
		if !challenged {
			t.Fatal("no 401 challenge at the instance endpoint in the access log")
		}
	})

	t.Run("ok/a SNAPSHOT re-deploy adds a build and replaces the metadata", func(t *testing.T) {
		before := e.version(t, "child", name, "1.0-SNAPSHOT")
		oldMeta := *before.File("maven-metadata.xml")
		lib := library(t, e.groupID, "hello", "1.0-SNAPSHOT", "hello two", e.projectRepo("child"))
		outputs = append(outputs, deployer.mustRun(t, lib, "deploy"))
		after := e.version(t, "child", name, "1.0-SNAPSHOT")
		meta := after.File("maven-metadata.xml")
		if meta.SHA256 == oldMeta.SHA256 || len(after.Files) != len(before.Files)+2 {
			t.Fatalf("after re-deploy: %d files (before %d), metadata replaced: %v", len(after.Files), len(before.Files), meta.SHA256 != oldMeta.SHA256)
		}
		r := e.do(t, http.MethodGet, e.projectRepo("child")+"/"+name+"/1.0-SNAPSHOT/maven-metadata.xml", nil, "Deploy-Token", projectReader.Token)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), "<buildNumber>2</buildNumber>") {
			t.Fatalf("snapshot metadata: %d %s", r.status, r.body)
		}
		// The consumer picks up build 2.
		app := consumer(t, e.groupID, "hello", "1.0-SNAPSHOT", e.groupRepo(e.f.GroupID))
		outputs = append(outputs, groupConsumer.mustRun(t, app, "-U", "compile"))
		var newest *packages.File
		for i := range after.Files {
			if f := &after.Files[i]; strings.HasSuffix(f.Filename, "-2.jar") {
				newest = f
			}
		}
		if newest == nil {
			t.Fatalf("no build 2 jar in %+v", after.Files)
		}
		if got := packages.SumsOf(localJar(t, groupConsumer, e.groupID, "hello", "1.0-SNAPSHOT")); got.SHA256 != newest.SHA256 {
			t.Fatal("the consumer still has build 1")
		}
	})

	t.Run("ok/release deploy; fail/release re-deploy is refused", func(t *testing.T) {
		lib := library(t, e.groupID, "hello", "1.0", "release", e.projectRepo("child"))
		outputs = append(outputs, deployer.mustRun(t, lib, "deploy"))
		if v := e.version(t, "child", name, "1.0"); len(v.Files) != 2 {
			t.Fatalf("release files: %+v", v.Files)
		}
		// Deploying the same files again (deploy-file: no rebuild) is refused.
		out, code := deployer.run(t, lib, deployFile, "-Dfile="+filepath.Join(lib, "target/hello-1.0.jar"), "-DpomFile=pom.xml",
			"-Durl="+e.projectRepo("child"), "-DrepositoryId=gatehouse")
		outputs = append(outputs, out)
		if code == 0 || !strings.Contains(out, "409") {
			t.Fatalf("release re-deploy: exit %d\n%s", code, out)
		}
	})

	t.Run("fail/a read-only token cannot deploy", func(t *testing.T) {
		m := newMaven(t, deployHeader(projectReader.Token))
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "hello.jar"), "not a jar")
		out, code := m.run(t, dir, deployFile, "-Dfile=hello.jar", "-DgroupId="+e.groupID, "-DartifactId=hello", "-Dversion=2.0",
			"-Dpackaging=jar", "-Durl="+e.projectRepo("child"), "-DrepositoryId=gatehouse")
		outputs = append(outputs, out)
		if code == 0 || !strings.Contains(out, "403") {
			t.Fatalf("read-only deploy: exit %d\n%s", code, out)
		}
		// Maven shows only the status; the reason is in the body.
		r := e.do(t, http.MethodPut, e.projectRepo("child")+"/"+name+"/2.0/hello-2.0.pom", []byte("<project/>"), "Deploy-Token", projectReader.Token)
		if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "write_package_registry") {
			t.Fatalf("read-only PUT: %d %s", r.status, r.body)
		}
		ctx := context.Background()
		pkg, err := e.ts.Server.Packages.Package(ctx, child.ID, packages.Maven, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ts.Server.Packages.Version(ctx, pkg, "2.0"); err == nil {
			t.Fatal("a refused deploy stored a version")
		}
	})

	t.Run("ok/no secret in the logs or mvn's output", func(t *testing.T) {
		all := e.ts.Logs() + strings.Join(outputs, "\n")
		for _, s := range []string{writer.Token, groupReader.Token, projectReader.Token} {
			if strings.Contains(all, s) {
				t.Fatal("a deploy token secret is in the server's logs or mvn's output")
			}
		}
		if !strings.Contains(e.ts.Logs(), "/packages/maven/") {
			t.Fatal("the logs recorded no Maven request: the check above proves nothing")
		}
	})
}

// TestPostgres deploys with mvn (deploy:deploy-file, the whole protocol: metadata GET, artifact,
// checksum and metadata PUTs) and downloads through every level, on PostgreSQL.
func TestPostgres(t *testing.T) {
	e := start(t, testenv.WithPostgres(t))
	e.nameAfter("grandchild")
	tok := e.ts.CreateDeployToken(t, fmt.Sprintf("groups/%d", e.f.GroupID), []string{"read_package_registry", "write_package_registry"}, nil)
	m := newMaven(t, deployHeader(tok.Token))
	dir := t.TempDir()
	jar := filepath.Join(dir, "pg.jar")
	content := []byte("not really a jar " + randomHex(t, 16))
	writeFile(t, jar, string(content))
	m.mustRun(t, dir, deployFile, "-Dfile="+jar,
		"-DgroupId="+e.groupID, "-DartifactId=pg", "-Dversion=3.1-SNAPSHOT", "-Dpackaging=jar",
		"-Durl="+e.projectRepo("grandchild"), "-DrepositoryId=gatehouse")
	v := e.version(t, "grandchild", e.groupPath()+"/pg", "3.1-SNAPSHOT")
	var jarFile *packages.File
	for i := range v.Files {
		if strings.HasSuffix(v.Files[i].Filename, ".jar") {
			jarFile = &v.Files[i]
		}
	}
	if jarFile == nil || v.File("maven-metadata.xml") == nil {
		t.Fatalf("stored: %+v", v.Files)
	}
	path := "/" + e.groupPath() + "/pg/3.1-SNAPSHOT/" + jarFile.Filename
	for _, base := range []string{e.projectRepo("grandchild"), e.groupRepo(e.f.SubID), e.instanceRepo()} {
		r := e.do(t, http.MethodGet, base+path, nil, "Authorization", basicHeader("ci", tok.Token))
		if r.status != http.StatusOK || !bytes.Equal(r.body, content) {
			t.Fatalf("GET %s: %d", base, r.status)
		}
		r = e.do(t, http.MethodGet, base+path+".sha1", nil, "Deploy-Token", tok.Token)
		if r.status != http.StatusOK || string(r.body) != packages.SumsOf(content).SHA1 {
			t.Fatalf("GET %s.sha1: %d %s", base, r.status, r.body)
		}
	}
}
