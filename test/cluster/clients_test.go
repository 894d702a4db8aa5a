//go:build linux

package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// The client operations the tests and the load run: each a real client (git, crane, npm) or a
// plain HTTP request, bounded in time, returning an error instead of failing the test, so the
// load goroutines can count them and never call t.Fatal.

// clientTimeout bounds one client operation: a hang is a failure, never a stuck test.
const clientTimeout = 90 * time.Second

// run runs a real client from home (testenv.ClientEnv plus extra) for at most clientTimeout.
func run(home string, extra []string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = home, append(testenv.ClientEnv(home), extra...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("no answer within %v: %w", clientTimeout, err)
	}
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", filepath.Base(argv[0]), strings.Join(argv[1:2], " "), err, tail(string(out)))
	}
	return string(out), nil
}

func tail(s string) string {
	if len(s) > 600 {
		return "…" + s[len(s)-600:]
	}
	return s
}

func mkdirTemp() (string, error) { return os.MkdirTemp(scratch, "op-") }

// scratch holds the clients' working directories; set by each test (its TempDir).
var scratch string

// gitURL is a project's clone URL at base with basic credentials.
func gitURL(base, fullPath, user, secret string) string {
	scheme, host, _ := strings.Cut(base, "://")
	return fmt.Sprintf("%s://%s:%s@%s/%s.git", scheme, user, secret, host, fullPath)
}

// gitClone clones url and checks the README the initial push wrote; it returns the work tree.
func gitClone(url, fullPath string) (string, error) {
	home, err := mkdirTemp()
	if err != nil {
		return "", err
	}
	dst := filepath.Join(home, "clone")
	if _, err := run(home, nil, "git", "clone", "-q", url, dst); err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(dst, "README.md"))
	if err != nil || string(b) != "hello from "+fullPath+"\n" {
		return "", fmt.Errorf("cloned README %q, %v", b, err)
	}
	return dst, nil
}

// gitPush clones url, commits one new file and pushes it to a new branch (so concurrent pushes
// never race for one ref); it returns the pushed commit.
func gitPush(url, fullPath, name string) (string, error) {
	dir, err := gitClone(url, fullPath)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(name+"\n"), 0o644); err != nil {
		return "", err
	}
	home := filepath.Dir(dir)
	for _, args := range [][]string{{"add", name}, {"commit", "-q", "-m", name}, {"push", "-q", "origin", "HEAD:refs/heads/" + strings.TrimSuffix(name, ".txt")}} {
		if _, err := run(dir, []string{"HOME=" + home}, append([]string{"git"}, args...)...); err != nil {
			return "", err
		}
	}
	out, err := run(dir, []string{"HOME=" + home}, "git", "rev-parse", "HEAD")
	return strings.TrimSpace(out), err
}

// gitInit pushes the first commit (README.md) of fullPath.
func gitInit(url, fullPath string) error {
	home, err := mkdirTemp()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(home, "README.md"), []byte("hello from "+fullPath+"\n"), 0o644); err != nil {
		return err
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-q", "-m", "initial"}, {"push", "-q", url, "main"}} {
		if _, err := run(home, nil, append([]string{"git"}, args...)...); err != nil {
			return err
		}
	}
	return nil
}

// gitHas clones url and checks that every commit is in it.
func gitHas(url, fullPath string, commits []string) error {
	dir, err := gitClone(url, fullPath)
	if err != nil {
		return err
	}
	for _, c := range commits {
		if _, err := run(dir, []string{"HOME=" + filepath.Dir(dir)}, "git", "cat-file", "-e", c+"^{commit}"); err != nil {
			return fmt.Errorf("acknowledged commit %s lost: %w", c, err)
		}
	}
	return nil
}

// crane is one registry client: its own home, logged in to hosts with a deploy token.
type crane struct {
	bin, home string
}

func newCrane(bin, user, secret string, hosts ...string) (*crane, error) {
	home, err := mkdirTemp()
	if err != nil {
		return nil, err
	}
	c := &crane{bin: bin, home: home}
	for _, h := range hosts {
		if _, err := run(home, nil, bin, "auth", "login", h, "-u", user, "-p", secret); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// push appends a new random layer as a new image tagged ref and returns its digest.
func (c *crane) push(ref string) (string, error) {
	layer := filepath.Join(c.home, "layer-"+randomHex(6))
	if err := os.WriteFile(layer, randomBytes(4096), 0o644); err != nil {
		return "", err
	}
	defer os.Remove(layer)
	if _, err := run(c.home, nil, c.bin, "append", "--new_layer", layer, "-t", ref); err != nil {
		return "", err
	}
	return c.digest(ref)
}

// digest is the manifest digest ref resolves to.
func (c *crane) digest(ref string) (string, error) {
	out, err := run(c.home, nil, c.bin, "digest", ref)
	// The digest is the last line; crane logs its retries before it.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), err
}

// pull pulls ref whole (manifest, config and layers, verified by their digests).
func (c *crane) pull(ref string) error {
	out := filepath.Join(c.home, "pull-"+randomHex(6)+".tar")
	defer os.Remove(out)
	_, err := run(c.home, nil, c.bin, "pull", ref, out)
	return err
}

// npmClient is one npm user with its own home and config, mapping @group to a project's
// registry at a base URL with a deploy token. The packument's tarball URLs are on the external
// URL (the load balancer), so the token is given for external too.
type npmClient struct {
	bin, home string
	env       []string
}

func newNPM(bin, base, external string, projectID int64, token string) (*npmClient, error) {
	home, err := mkdirTemp()
	if err != nil {
		return nil, err
	}
	registry := fmt.Sprintf("%s/api/v4/projects/%d/packages/npm/", base, projectID)
	rc := "@group:registry=" + registry + "\n"
	for _, b := range []string{base, external} {
		rc += strings.TrimPrefix(fmt.Sprintf("%s/api/v4/projects/%d/packages/npm/", b, projectID), "http:") + ":_authToken=" + token + "\n"
	}
	if err := os.WriteFile(filepath.Join(home, "npmrc"), []byte(rc), 0o600); err != nil {
		return nil, err
	}
	return &npmClient{bin: bin, home: home, env: []string{
		"npm_config_userconfig=" + filepath.Join(home, "npmrc"),
		"npm_config_globalconfig=" + filepath.Join(home, "globalnpmrc"),
		"npm_config_registry=http://127.0.0.1:9/", // nothing leaves the machine
		"npm_config_audit=false", "npm_config_fund=false", "npm_config_update_notifier=false",
		"npm_config_fetch_retries=0", "npm_config_loglevel=warn",
	}}, nil
}

// npm runs npm in dir with a fresh cache, so every install really fetches from the registry.
func (n *npmClient) npm(dir string, args ...string) (string, error) {
	cache, err := os.MkdirTemp(n.home, "cache-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(cache)
	return run(dir, append([]string{"HOME=" + n.home, "npm_config_cache=" + cache}, n.env...), append([]string{n.bin}, args...)...)
}

// publish publishes name@version whose module exports greeting.
func (n *npmClient) publish(name, version, greeting string) error {
	dir, err := os.MkdirTemp(n.home, "pkg-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	pj := fmt.Sprintf(`{"name":%q,"version":%q,"main":"index.js","license":"MIT","description":"cluster test"}`, name, version)
	for file, content := range map[string]string{"package.json": pj, "index.js": fmt.Sprintf("module.exports = %q;\n", greeting)} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			return err
		}
	}
	_, err = n.npm(dir, "publish")
	return err
}

// install installs spec into a fresh project and returns what requiring module prints.
func (n *npmClient) install(spec, module string) (string, error) {
	dir, err := os.MkdirTemp(n.home, "consumer-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"consumer","version":"1.0.0","private":true}`), 0o644); err != nil {
		return "", err
	}
	if _, err := n.npm(dir, "install", spec); err != nil {
		return "", err
	}
	out, err := run(dir, nil, "node", "-e", fmt.Sprintf("console.log(require(%q))", module))
	return strings.TrimSpace(out), err
}

// versions lists the published versions of name.
func (n *npmClient) versions(name string) ([]string, error) {
	dir, err := os.MkdirTemp(n.home, "view-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out, err := n.npm(dir, "view", name, "versions", "--json")
	if err != nil {
		return nil, err
	}
	var vs []string
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &vs); err != nil {
		var one string
		if json.Unmarshal([]byte(strings.TrimSpace(out)), &one) != nil {
			return nil, fmt.Errorf("npm view versions: %q", out)
		}
		vs = []string{one}
	}
	return vs, nil
}

// httpClient makes the raw requests; its timeout bounds a hang.
var httpClient = &http.Client{Timeout: clientTimeout}

// statusError is an answer that was not the one wanted, with its body.
type statusError struct {
	Status int
	Body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, tail(e.Body)) }

// request sends one request with a deploy token (Deploy-Token) or a bearer token and returns
// the body, or a *statusError unless the status is want.
func request(method, url string, body []byte, header map[string]string, want int) ([]byte, http.Header, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != want {
		return b, resp.Header, &statusError{Status: resp.StatusCode, Body: string(b)}
	}
	return b, resp.Header, nil
}

// genericURL is a generic package file's URL.
func genericURL(base string, projectID int64, name, version, file string) string {
	return fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/%s/%s/%s", base, projectID, name, version, file)
}

// genericPut uploads data and returns its sha256.
func genericPut(url, token string, data []byte) (string, error) {
	if _, _, err := request(http.MethodPut, url, data, map[string]string{"Deploy-Token": token}, http.StatusCreated); err != nil {
		return "", err
	}
	return sha(data), nil
}

// genericGet downloads url and checks its sha256.
func genericGet(url, token, want string) error {
	b, _, err := request(http.MethodGet, url, nil, map[string]string{"Deploy-Token": token}, http.StatusOK)
	if err != nil {
		return err
	}
	if got := sha(b); got != want {
		return fmt.Errorf("downloaded %d bytes with sha256 %s, want %s", len(b), got, want)
	}
	return nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }
