//go:build !unix

package sqlstore

import "errors"

// walIndex is not mapped outside Unix: the read cache stays off there.
type walIndex struct{}

func mapWALIndex(string) (*walIndex, error) { return nil, errors.ErrUnsupported }

func (*walIndex) word(int) uint64 { return 0 }

func (*walIndex) close() error { return nil }
