package extauthz_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/access"
	"github.com/gatehouse-dev/gatehouse/internal/extauthz"
	"github.com/gatehouse-dev/gatehouse/internal/namespace"
	"github.com/gatehouse-dev/gatehouse/internal/sqlstore/storetest"
)

// classifier is a real external authorization service on loopback implementing GitLab's
// protocol: people listed in allow[label] get 200, others 403 with a reason.
type classifier struct {
	srv   *httptest.Server
	hits  atomic.Int64
	mu    sync.Mutex
	allow map[string]map[string]bool // label → user identifier → allowed
	delay time.Duration
	// status, when set, is answered instead (for failures).
	status int
	// seen are the request bodies received.
	seen []map[string]any
}

func newClassifier(t *testing.T) *classifier {
	t.Helper()
	c := &classifier{allow: map[string]map[string]bool{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		var body map[string]any
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
			json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.seen = append(c.seen, body)
		delay, status := c.delay, c.status
		ok := c.allow[body["project_classification_label"].(string)][body["user_identifier"].(string)]
		c.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case status != 0:
			w.WriteHeader(status)
		case ok:
			w.WriteHeader(http.StatusOK)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"reason":"not cleared for this label\nsecret"}`))
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *classifier) set(f func(c *classifier)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newService(t *testing.T, c *classifier, opts extauthz.Options) (*extauthz.Service, *clock) {
	t.Helper()
	clk := &clock{now: time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)}
	opts.Now = clk.Now
	svc := extauthz.New(storetest.OpenSQLite(t).Settings, opts)
	if c != nil {
		if err := svc.SaveSettings(context.Background(), access.ExternalSettings{Enabled: true, ServiceURL: c.srv.URL,
			Timeout: access.DefaultExternalTimeout, DefaultLabel: "public"}); err != nil {
			t.Fatal(err)
		}
	}
	return svc, clk
}

var alice = &namespace.User{ID: 2, Username: "alice", Email: "alice@example.com"}

func TestAuthorize(t *testing.T) {
	ctx := context.Background()
	c := newClassifier(t)
	c.set(func(c *classifier) { c.allow["secret"] = map[string]bool{"alice@example.com": true} })
	svc, clk := newService(t, c, extauthz.Options{})

	t.Run("ok/allowed by the service", func(t *testing.T) {
		ok, _, err := svc.Authorize(ctx, alice, "secret")
		if err != nil || !ok {
			t.Fatalf("Authorize = %v, %v; want allowed", ok, err)
		}
		c.mu.Lock()
		body := c.seen[len(c.seen)-1]
		c.mu.Unlock()
		if body["user_identifier"] != "alice@example.com" || body["project_classification_label"] != "secret" {
			t.Fatalf("service received %v", body)
		}
	})
	t.Run("fail/denied with the service's reason, made one line", func(t *testing.T) {
		ok, reason, err := svc.Authorize(ctx, alice, "top-secret")
		if err != nil || ok || reason != "not cleared for this label secret" {
			t.Fatalf("Authorize = %v, %q, %v; want denied with the reason", ok, reason, err)
		}
	})
	t.Run("ok/answers are cached per person and label", func(t *testing.T) {
		before := c.hits.Load()
		for range 5 {
			if ok, _, err := svc.Authorize(ctx, alice, "secret"); err != nil || !ok {
				t.Fatalf("cached Authorize = %v, %v", ok, err)
			}
			if ok, _, _ := svc.Authorize(ctx, alice, "top-secret"); ok {
				t.Fatal("cached denial turned into a grant")
			}
		}
		if got := c.hits.Load() - before; got != 0 {
			t.Fatalf("service asked %d times for cached answers", got)
		}
		// The service's change is seen once the answer expires.
		c.set(func(c *classifier) { c.allow["secret"] = map[string]bool{} })
		clk.advance(extauthz.DefaultAnswerTTL - time.Second)
		if ok, _, _ := svc.Authorize(ctx, alice, "secret"); !ok {
			t.Fatal("answer expired early")
		}
		clk.advance(2 * time.Second)
		if ok, _, _ := svc.Authorize(ctx, alice, "secret"); ok {
			t.Fatal("expired answer still used")
		}
		if got := c.hits.Load() - before; got != 1 {
			t.Fatalf("service asked %d times, want 1 after expiry", got)
		}
	})
	t.Run("fail/an unexpected status is an error, never cached", func(t *testing.T) {
		c.set(func(c *classifier) { c.status = http.StatusInternalServerError })
		before := c.hits.Load()
		for range 2 {
			if ok, _, err := svc.Authorize(ctx, alice, "broken"); ok || !errors.Is(err, extauthz.ErrUnexpectedAnswer) {
				t.Fatalf("Authorize = %v, %v; want ErrUnexpectedAnswer", ok, err)
			}
		}
		if got := c.hits.Load() - before; got != 2 {
			t.Fatalf("service asked %d times, want 2 (failures are not cached)", got)
		}
		c.set(func(c *classifier) { c.status = 0 })
	})
	t.Run("fail/a slow service times out", func(t *testing.T) {
		c.set(func(c *classifier) { c.delay = 2 * time.Second })
		defer c.set(func(c *classifier) { c.delay = 0 })
		start := time.Now()
		ok, _, err := svc.Authorize(ctx, alice, "slow")
		if ok || err == nil {
			t.Fatalf("Authorize = %v, %v; want a timeout error", ok, err)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Fatalf("timeout took %v, want about %v", d, access.DefaultExternalTimeout)
		}
	})
	t.Run("fail/an unreachable service is an error", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		if err := svc.SaveSettings(ctx, access.ExternalSettings{Enabled: true, ServiceURL: dead.URL, Timeout: time.Second}); err != nil {
			t.Fatal(err)
		}
		if ok, _, err := svc.Authorize(ctx, alice, "secret"); ok || err == nil {
			t.Fatalf("Authorize = %v, %v; want an error", ok, err)
		}
	})
}

func TestBoundedCache(t *testing.T) {
	ctx := context.Background()
	c := newClassifier(t)
	svc, _ := newService(t, c, extauthz.Options{MaxAnswers: 3})
	for i := range 10 {
		u := &namespace.User{ID: int64(100 + i), Username: "u", Email: "u@example.com"}
		if _, _, err := svc.Authorize(ctx, u, "l"); err != nil {
			t.Fatal(err)
		}
	}
	before := c.hits.Load()
	// The most recent answer is still cached; the earliest were dropped to stay within bounds.
	_, _, _ = svc.Authorize(ctx, &namespace.User{ID: 109, Email: "u@example.com"}, "l")
	_, _, _ = svc.Authorize(ctx, &namespace.User{ID: 100, Email: "u@example.com"}, "l")
	if got := c.hits.Load() - before; got != 1 {
		t.Fatalf("service asked %d times, want 1 (only the evicted answer)", got)
	}
}

func TestSettings(t *testing.T) {
	ctx := context.Background()
	svc, _ := newService(t, nil, extauthz.Options{})
	got, err := svc.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Enabled || got.Timeout != access.DefaultExternalTimeout || svc.Enabled() {
		t.Fatalf("default settings = %+v (enabled %v), want off with the default timeout", got, svc.Enabled())
	}
	cases := []struct {
		name string
		set  access.ExternalSettings
		ok   bool
	}{
		{"ok/enabled with a URL", access.ExternalSettings{Enabled: true, ServiceURL: "https://authz.example.com/check", Timeout: 3 * time.Second, DefaultLabel: "internal"}, true},
		{"ok/off without URL", access.ExternalSettings{Timeout: time.Second}, true},
		{"fail/enabled without URL", access.ExternalSettings{Enabled: true, Timeout: time.Second}, false},
		{"fail/not http", access.ExternalSettings{Enabled: true, ServiceURL: "ftp://x", Timeout: time.Second}, false},
		{"fail/credentials in URL", access.ExternalSettings{Enabled: true, ServiceURL: "https://u:p@x", Timeout: time.Second}, false},
		{"fail/timeout too short", access.ExternalSettings{Timeout: 100 * time.Millisecond}, false},
		{"fail/timeout too long", access.ExternalSettings{Timeout: 11 * time.Second}, false},
		{"fail/label too long", access.ExternalSettings{Timeout: time.Second, DefaultLabel: strings.Repeat("x", 256)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := svc.SaveSettings(ctx, tc.set)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, access.ErrInvalidSetting)) {
				t.Fatalf("SaveSettings = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok {
				got, err := svc.Settings(ctx)
				if err != nil || got != tc.set || svc.Enabled() != tc.set.Enabled {
					t.Fatalf("Settings = %+v, %v; want %+v", got, err, tc.set)
				}
			}
		})
	}
	t.Run("ok/forced by the configuration", func(t *testing.T) {
		forced, _ := newService(t, nil, extauthz.Options{Forced: true})
		if !forced.Enabled() {
			t.Fatal("forced service not enabled")
		}
		if err := forced.SaveSettings(ctx, access.ExternalSettings{Timeout: time.Second}); !errors.Is(err, access.ErrInvalidSetting) {
			t.Fatalf("turning off a forced service: %v, want ErrInvalidSetting", err)
		}
		// Forced without a URL: only the deploy-token rule applies; humans are not asked.
		if _, ok, err := forced.ExternalLabel(ctx, &namespace.Project{ID: 1}); ok || err != nil {
			t.Fatalf("ExternalLabel without a service = %v, %v; want not applicable", ok, err)
		}
	})
}
