package testbin

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mailpit is a real SMTP server (github.com/axllent/mailpit, pinned in go.mod as a Go tool)
// that keeps every message it receives and shows them through its HTTP API.
type Mailpit struct {
	// SMTPHost and SMTPPort are where it accepts mail; APIURL is its HTTP base URL.
	SMTPHost string
	SMTPPort int
	APIURL   string
}

// MailpitOptions adds flags to the mailpit command line (TLS certificates, auth files …).
type MailpitOptions struct {
	Args []string
}

var (
	mailpitOnce sync.Once
	mailpitPath string
	mailpitErr  error
)

// mailpitBinary builds mailpit once (go tool -n mailpit, from the module root) or finds it on
// PATH / in Go's bin directory.
func mailpitBinary(tb testing.TB) string {
	tb.Helper()
	mailpitOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			mailpitErr = err
			return
		}
		root, err := moduleRoot()
		if err != nil {
			mailpitErr = err
			return
		}
		cmd := exec.Command(goBin, "tool", "-n", "mailpit")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			mailpitErr = fmt.Errorf("go tool -n mailpit: %v: %s", err, out)
			return
		}
		mailpitPath = strings.TrimSpace(string(out))
	})
	if mailpitPath != "" {
		return mailpitPath
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	if p := goBin("mailpit"); p != "" {
		return p
	}
	Missing(tb, "mailpit not available (%v)", mailpitErr)
	return ""
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}

// StartMailpit runs mailpit on free loopback ports with a temporary database, waits until its
// API answers, and stops it when the test ends. Without the binary the test is skipped, or
// fails under CI=true.
func StartMailpit(tb testing.TB, opts ...MailpitOptions) *Mailpit {
	tb.Helper()
	bin := mailpitBinary(tb)
	var extra []string
	for _, o := range opts {
		extra = append(extra, o.Args...)
	}
	var lastErr error
	for range 3 { // a free port can be taken between probing and binding it
		m, err := startMailpit(tb, bin, extra)
		if err == nil {
			return m
		}
		lastErr = err
	}
	tb.Fatalf("start mailpit: %v", lastErr)
	return nil
}

func startMailpit(tb testing.TB, bin string, extra []string) (*Mailpit, error) {
	tb.Helper()
	dir := tb.TempDir()
	smtpAddr, err := FreeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := FreeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"--smtp", smtpAddr, "--listen", httpAddr, "--database", filepath.Join(dir, "mailpit.db"),
		"--disable-version-check", "--smtp-disable-rdns", "--quiet"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	m := &Mailpit{SMTPHost: "127.0.0.1", APIURL: "http://" + httpAddr}
	_, port, _ := net.SplitHostPort(smtpAddr)
	m.SMTPPort, _ = strconv.Atoi(port)
	client := &http.Client{Timeout: 2 * time.Second}
	_, err = serve(tb, cmd, 30*time.Second, func() bool {
		resp, err := client.Get(m.APIURL + "/api/v1/messages")
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
		c, err := net.DialTimeout("tcp", smtpAddr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// MailAddress is an address in mailpit's API.
type MailAddress struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// MailSummary is a message in mailpit's list.
type MailSummary struct {
	ID      string        `json:"ID"`
	From    MailAddress   `json:"From"`
	To      []MailAddress `json:"To"`
	Subject string        `json:"Subject"`
}

// Mail is one message in full.
type Mail struct {
	MailSummary
	Text string `json:"Text"`
	HTML string `json:"HTML"`
	// Headers are the header fields, read from /api/v1/message/{ID}/headers.
	Headers map[string][]string `json:"-"`
}

// Messages returns every received message in full (newest first, as mailpit lists them).
func (m *Mailpit) Messages(tb testing.TB) []Mail {
	tb.Helper()
	var list struct {
		Total    int           `json:"total"`
		Messages []MailSummary `json:"messages"`
	}
	m.get(tb, "/api/v1/messages?limit=1000", &list)
	out := make([]Mail, 0, len(list.Messages))
	for _, s := range list.Messages {
		var full Mail
		m.get(tb, "/api/v1/message/"+url.PathEscape(s.ID), &full)
		m.get(tb, "/api/v1/message/"+url.PathEscape(s.ID)+"/headers", &full.Headers)
		out = append(out, full)
	}
	return out
}

// Clear deletes every message.
func (m *Mailpit) Clear(tb testing.TB) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodDelete, m.APIURL+"/api/v1/messages", nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("mailpit: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("mailpit: DELETE /api/v1/messages: %s", resp.Status)
	}
}

func (m *Mailpit) get(tb testing.TB, path string, out any) {
	tb.Helper()
	resp, err := http.Get(m.APIURL + path)
	if err != nil {
		tb.Fatalf("mailpit: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("mailpit: GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		tb.Fatalf("mailpit: GET %s: %v", path, err)
	}
}
