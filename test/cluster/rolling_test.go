//go:build linux

package cluster

import (
	"context"
	"testing"
	"time"
)

// loadDuration is how long the rolling restart's load runs; every node is restarted once
// within it.
const loadDuration = 60 * time.Second

// TestRollingRestart: under a mixed load through HAProxy (git clones and pushes, crane pulls
// and pushes, generic uploads and downloads, npm installs and publishes), each node in turn
// gets SIGTERM, exits 0 and is started again on the same configuration. No client operation
// may fail, and afterwards everything a push or publish acknowledged is there, whole.
func TestRollingRestart(t *testing.T) {
	c := startCluster(t)
	w := makeWorld(t, c)
	l := newLoad(w)
	ctx, cancel := context.WithTimeout(context.Background(), loadDuration)
	defer cancel()
	start := time.Now()
	wait := l.run(ctx, t)
	defer func() { cancel(); wait() }() // on a failure too: no client outlives the test
	gap := loadDuration / time.Duration(len(c.nodes)+1)
	for i, n := range c.nodes {
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(start.Add(gap * time.Duration(i+1)))):
		}
		began := time.Now()
		c.restart(t, i)
		t.Logf("node %s restarted at +%v: SIGTERM to back in rotation took %v", n.name,
			began.Sub(start).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	}
	<-ctx.Done()
	wait()
	fail(t, "failed during the rolling restart", l.report(t), start)
	l.verify(t)
	noServerErrors(t, c)
}
