package token

import (
	"context"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// UsageStore is the persistence the usage writer needs.
type UsageStore interface {
	// TouchDeployToken records a use at at from ip (the zero Addr when unknown).
	TouchDeployToken(ctx context.Context, id int64, at time.Time, ip netip.Addr) error
	// AddDeployTokenUsage adds each entry's Requests to its token's counter for its Day; entries
	// of tokens that no longer exist are dropped.
	AddDeployTokenUsage(ctx context.Context, usage []DailyUsage) error
}

// UsageWriter records deploy-token uses (last used at and from where, requests per day) off the
// request path: MarkUsed only counts, and a background writer stores the counts in batches.
// DeployService.Usage reads them back.
type UsageWriter struct {
	store UsageStore
	now   func() time.Time

	touchMu   sync.Mutex
	touchedAt map[int64]time.Time
	// usage counts requests per token and UTC day until the writer adds them to the store.
	usage    map[usageKey]int64
	touches  chan touch
	flushReq chan chan struct{}
	done     chan struct{}
	wg       sync.WaitGroup
}

type touch struct {
	id int64
	at time.Time
	ip netip.Addr
}

type usageKey struct {
	id  int64
	day time.Time
}

// touchInterval bounds how often last_used_at is written per token.
const touchInterval = time.Minute

// usageFlushInterval is how often the writer adds the counted requests to the store.
const usageFlushInterval = 10 * time.Second

// maxPendingUsage bounds the (token, day) counters held between flushes; uses of further
// tokens are not counted until the next flush.
const maxPendingUsage = 100_000

// NewUsageWriter returns a writer over store and starts its background writer, which Close
// stops; now may be nil for time.Now.
func NewUsageWriter(store UsageStore, now func() time.Time) *UsageWriter {
	if now == nil {
		now = time.Now
	}
	w := &UsageWriter{store: store, now: now, touchedAt: map[int64]time.Time{},
		usage: map[usageKey]int64{}, touches: make(chan touch, 1024), flushReq: make(chan chan struct{}),
		done: make(chan struct{})}
	w.wg.Add(1)
	go w.loop()
	return w
}

// Close flushes pending last-used writes and usage counters and stops the writer.
func (w *UsageWriter) Close() {
	select {
	case <-w.done:
		return
	default:
	}
	close(w.done)
	w.wg.Wait()
}

// Flush writes the queued last-used times and the usage counted so far, and returns once they
// are stored (or at once after Close). The writer also flushes on its own every few seconds.
func (w *UsageWriter) Flush() {
	ack := make(chan struct{})
	select {
	case w.flushReq <- ack:
		<-ack
	case <-w.done:
	}
}

// MarkUsed records that t was used now from ip (the zero Addr when unknown): it counts the
// request toward today's usage and writes last_used_at and last_used_ip at most once a minute
// per token. Nothing is written on the caller's path: the writer stores both in the background
// (a last-used write is dropped if its queue is full).
func (w *UsageWriter) MarkUsed(t *DeployToken, ip netip.Addr) {
	now := w.now()
	key := usageKey{id: t.ID, day: ExpiryDate(now)}
	w.touchMu.Lock()
	if _, ok := w.usage[key]; ok || len(w.usage) < maxPendingUsage {
		w.usage[key]++
	}
	last, ok := w.touchedAt[t.ID]
	if ok && now.Sub(last) < touchInterval {
		w.touchMu.Unlock()
		return
	}
	w.touchedAt[t.ID] = now
	w.touchMu.Unlock()
	select {
	case w.touches <- touch{id: t.ID, at: now, ip: ip}:
	default:
	}
}

func (w *UsageWriter) loop() {
	defer w.wg.Done()
	write := func(t touch) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.store.TouchDeployToken(ctx, t.id, t.at, t.ip)
	}
	drain := func() {
		for {
			select {
			case t := <-w.touches:
				write(t)
			default:
				w.flushUsage()
				return
			}
		}
	}
	tick := time.NewTicker(usageFlushInterval)
	defer tick.Stop()
	for {
		select {
		case t := <-w.touches:
			write(t)
		case <-tick.C:
			w.flushUsage()
		case ack := <-w.flushReq:
			drain()
			close(ack)
		case <-w.done:
			drain()
			return
		}
	}
}

// flushUsage adds the counted requests to the store in one batch; on failure they are kept
// for the next flush.
func (w *UsageWriter) flushUsage() {
	w.touchMu.Lock()
	if len(w.usage) == 0 {
		w.touchMu.Unlock()
		return
	}
	pending := w.usage
	w.usage = map[usageKey]int64{}
	w.touchMu.Unlock()
	batch := make([]DailyUsage, 0, len(pending))
	for k, n := range pending {
		batch = append(batch, DailyUsage{TokenID: k.id, Day: k.day, Requests: n})
	}
	// A stable order keeps concurrent flushes of several nodes from deadlocking each other.
	sort.Slice(batch, func(i, j int) bool {
		if batch[i].TokenID != batch[j].TokenID {
			return batch[i].TokenID < batch[j].TokenID
		}
		return batch[i].Day.Before(batch[j].Day)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.store.AddDeployTokenUsage(ctx, batch); err != nil {
		w.touchMu.Lock()
		for k, n := range pending {
			if _, ok := w.usage[k]; ok || len(w.usage) < maxPendingUsage {
				w.usage[k] += n
			}
		}
		w.touchMu.Unlock()
	}
}
