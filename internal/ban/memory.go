package ban

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// Memory is the Store of one node, in its memory.
type Memory struct {
	mu     sync.Mutex
	addrs  map[netip.Prefix]*window
	idents map[string]*window
}

// NewMemory returns an empty in-memory Store.
func NewMemory() *Memory {
	return &Memory{addrs: map[netip.Prefix]*window{}, idents: map[string]*window{}}
}

// failure is one failed attempt, with the identity it was for ("" when none).
type failure struct {
	at       time.Time
	identity string
}

// window is the recent failures of one address or identity, and its ban.
type window struct {
	failures    []failure
	bannedUntil time.Time
}

// add records f, forgetting failures at or before cut, and bans until f.at+d once max failures
// are left (starting the count afresh).
func (w *window) add(f failure, cut time.Time, max int, d time.Duration) {
	kept := w.failures[:0]
	for _, old := range w.failures {
		if old.at.After(cut) {
			kept = append(kept, old)
		}
	}
	w.failures = append(kept, f)
	if len(w.failures) >= max {
		w.bannedUntil = f.at.Add(d)
		w.failures = w.failures[:0]
	}
}

// banned reports whether w is banned at now.
func (w *window) banned(now time.Time) bool { return w != nil && now.Before(w.bannedUntil) }

// idle reports whether w holds nothing that counts at now: no ban, no failure within span.
func (w *window) idle(now time.Time, span time.Duration) bool {
	return !w.banned(now) && (len(w.failures) == 0 || now.Sub(w.failures[len(w.failures)-1].at) > span)
}

// maxEntries bounds each map before idle entries are pruned.
const maxEntries = 100_000

func (m *Memory) Banned(_ context.Context, addr netip.Prefix, identity string, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addrs[addr].banned(now) || (identity != "" && m.idents[identity].banned(now)), nil
}

func (m *Memory) Fail(_ context.Context, addr netip.Prefix, identity string, now time.Time, r Rule) (bool, error) {
	f, cut := failure{at: now, identity: identity}, now.Add(-r.Window)
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.addrs) > maxEntries || len(m.idents) > maxEntries {
		m.pruneLocked(now, r.Window)
	}
	a := m.addrs[addr]
	if a == nil {
		a = &window{}
		m.addrs[addr] = a
	}
	a.add(f, cut, r.MaxFailures, r.Duration)
	if identity == "" {
		return a.banned(now), nil
	}
	id := m.idents[identity]
	if id == nil {
		id = &window{}
		m.idents[identity] = id
	}
	id.add(f, cut, r.MaxFailures, r.Duration)
	return a.banned(now) || id.banned(now), nil
}

func (m *Memory) Forgive(_ context.Context, addr netip.Prefix, identity string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id := m.idents[identity]; id != nil && !id.banned(now) {
		delete(m.idents, identity)
	}
	// Only this identity's failures are forgiven: the others this address made still count.
	if a := m.addrs[addr]; a != nil {
		kept := a.failures[:0]
		for _, f := range a.failures {
			if f.identity != identity {
				kept = append(kept, f)
			}
		}
		a.failures = kept
	}
	return nil
}

func (m *Memory) pruneLocked(now time.Time, span time.Duration) {
	for k, w := range m.addrs {
		if w.idle(now, span) {
			delete(m.addrs, k)
		}
	}
	for k, w := range m.idents {
		if w.idle(now, span) {
			delete(m.idents, k)
		}
	}
}
