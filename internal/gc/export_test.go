package gc

import "github.com/gatehouse-dev/gatehouse/internal/blob"

// SetAfterBegin sets the hook called after a batch is recorded as being deleted.
func SetAfterBegin(c *Collector, f func(digests []string)) { c.afterBegin = f }

// SetBeforeDelete sets the hook called before each blob deletion.
func SetBeforeDelete(c *Collector, f func(d blob.Digest)) { c.beforeDelete = f }
