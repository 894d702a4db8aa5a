//go:build unix

package sqlstore

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// walIndex is a read-only shared mapping of the start of a SQLite "-shm" file: the two copies
// of the wal-index header.
type walIndex struct {
	file *os.File // kept open: see readCache.close
	mem  []byte
}

// walIndexSize covers both 48-byte header copies.
const walIndexSize = 96

// mapWALIndex maps the start of the -shm file at path. Once the file is open it returns a
// walIndex even on error, for the caller to close with the store: see readCache.close.
func mapWALIndex(path string) (*walIndex, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	w := &walIndex{file: f}
	if st, err := f.Stat(); err != nil || st.Size() < walIndexSize {
		return w, fmt.Errorf("map %s: not a wal-index", path)
	}
	w.mem, err = syscall.Mmap(int(f.Fd()), 0, walIndexSize, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return w, fmt.Errorf("map %s: %w", path, err)
	}
	return w, nil
}

// word reads the i-th 8-byte word atomically: SQLite writers (this process's and others')
// change it under us. The mapping is page-aligned, so every word is aligned.
func (w *walIndex) word(i int) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&w.mem[8*i])))
}

func (w *walIndex) close() error {
	var err error
	if w.mem != nil {
		err = syscall.Munmap(w.mem)
	}
	if cerr := w.file.Close(); err == nil {
		err = cerr
	}
	return err
}
