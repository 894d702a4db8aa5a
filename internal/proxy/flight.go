package proxy

import (
	"context"
	"sync/atomic"
)

// shared runs fetch once per key however many requests ask for it at once, on a context
// detached from any one client and bounded by the fetch timeout, then keep records the result
// for the asking request's group: inside the flight for the request that ran it (so a request
// arriving just after the flight ends finds the record), after it for the others. A request
// whose client goes away stops waiting; the fetch goes on and still fills the cache.
func (h *Handler) shared(ctx context.Context, key string, fetch func(ctx context.Context) (any, error),
	keep func(ctx context.Context, v any) error) (any, error) {
	var ran atomic.Bool
	ch := h.flights.DoChan(key, func() (any, error) {
		ran.Store(true)
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.FetchTimeout)
		defer cancel()
		v, err := fetch(fctx)
		if err == nil {
			err = keep(fctx, v)
		}
		return v, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		if !ran.Load() {
			if err := keep(ctx, res.Val); err != nil {
				return nil, err
			}
		}
		return res.Val, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
