package rubygems

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/internal/packages"
)

// A .gem is a tar holding metadata.gz (the gemspec as YAML), data.tar.gz (the files) and
// checksums.yaml.gz (SHA-256 and SHA-512 of the other two), in that order as `gem build` writes
// it, plus a .sig for each in signed gems. ParseGem reads the stream up to and including the
// gemspec, and hands back a reader of the whole body that goes on parsing while the service
// stores it: the declared checksums are verified before the last byte is returned, so a
// mismatch stops the upload before anything is committed.

// Limits bound the parsing of a pushed gem.
type Limits struct {
	// MaxPrefix bounds the bytes before the gemspec's end (the tar headers and metadata.gz).
	MaxPrefix int
	// MaxMetadata bounds the gemspec's YAML, decompressed.
	MaxMetadata int
	// MaxSmall bounds checksums.yaml.gz and signatures, compressed and decompressed.
	MaxSmall int
	// MaxEntries bounds the tar's entries.
	MaxEntries int
}

// DefaultLimits are generous for real gems and small for a server.
func DefaultLimits() Limits {
	return Limits{MaxPrefix: 4 << 20, MaxMetadata: 2 << 20, MaxSmall: 64 << 10, MaxEntries: 16}
}

// Gem is a pushed gem whose gemspec was read: Content reads the whole .gem, and fails (with
// Err's error) when the rest of it is not a valid gem.
type Gem struct {
	Spec    *Spec
	Content io.Reader
	r       *gemReader
}

// Err is why the gem's content was refused after ParseGem returned, or nil.
func (g *Gem) Err() error { return g.r.err }

// ParseGem reads a .gem from body until its gemspec has been parsed and validated. Errors are
// *packages.ValidationError (ErrInvalid) or ErrTooLarge.
func ParseGem(body io.Reader, lim Limits) (*Gem, error) {
	r := &gemReader{lim: lim, seen: map[string]bool{}, sums: map[string][2]string{}}
	r.src = io.TeeReader(body, &r.out)
	r.tr = tar.NewReader(r.src)
	for r.spec == nil && r.err == nil && !r.done {
		if r.out.Len() > lim.MaxPrefix {
			return nil, fmt.Errorf("%w: the gemspec must come within the first %d bytes", packages.ErrTooLarge, lim.MaxPrefix)
		}
		r.step()
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.spec == nil {
		return nil, invalid("gem", "has no metadata.gz")
	}
	return &Gem{Spec: r.spec, Content: r, r: r}, nil
}

// The entries of a .gem.
const (
	entryMetadata  = "metadata.gz"
	entryData      = "data.tar.gz"
	entryChecksums = "checksums.yaml.gz"
)

// gemReader parses the tar while Read hands out the bytes it consumed.
type gemReader struct {
	lim Limits
	// src is the body, teed into out.
	src io.Reader
	tr  *tar.Reader
	// out holds bytes read from src and not yet returned by Read.
	out bytes.Buffer
	// cur is data.tar.gz while it is being hashed.
	cur          io.Reader
	curSHA256    hash.Hash
	curSHA512    hash.Hash
	entries      int
	seen         map[string]bool
	sums         map[string][2]string // entry → SHA-256, SHA-512 (hex)
	checksums    []byte
	spec         *Spec
	ended, done  bool
	err          error
	drainScratch [32 << 10]byte
}

func (r *gemReader) Read(p []byte) (int, error) {
	for r.out.Len() == 0 && r.err == nil && !r.done {
		r.step()
	}
	if r.out.Len() > 0 {
		return r.out.Read(p)
	}
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}

// step advances the parse by one bounded unit: a tar header, a small entry, a chunk of
// data.tar.gz, or a chunk of what follows the tar's end.
func (r *gemReader) step() {
	switch {
	case r.ended:
		// The tar's end-of-archive blocks and padding: read on to EOF (bounded by the service's
		// size limit, which counts these bytes as well).
		n, err := io.ReadFull(r.src, r.drainScratch[:])
		for _, c := range r.drainScratch[:n] {
			if c != 0 {
				r.err = invalid("gem", "has data after the end of its tar archive")
				return
			}
		}
		if err == nil {
			return
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			r.err = invalid("gem", "upload was interrupted")
			return
		}
		r.err = r.verify()
		r.done = r.err == nil
	case r.cur != nil:
		n, err := io.CopyN(io.MultiWriter(r.curSHA256, r.curSHA512), r.cur, 32<<10)
		if err == io.EOF || (err == nil && n == 0) {
			r.sums[entryData] = [2]string{hex.EncodeToString(r.curSHA256.Sum(nil)), hex.EncodeToString(r.curSHA512.Sum(nil))}
			r.cur = nil
		} else if err != nil {
			r.err = invalid("gem", "is not a readable tar archive")
		}
	default:
		r.next()
	}
}

// next reads the next tar header and any small entry whole.
func (r *gemReader) next() {
	hdr, err := r.tr.Next()
	if errors.Is(err, io.EOF) {
		r.ended = true
		return
	}
	if err != nil {
		r.err = invalid("gem", "is not a readable tar archive")
		return
	}
	if r.entries++; r.entries > r.lim.MaxEntries {
		r.err = invalid("gem", "has too many entries")
		return
	}
	name := hdr.Name
	base := strings.TrimSuffix(name, ".sig")
	switch {
	case hdr.Typeflag != tar.TypeReg:
		r.err = invalid("gem", "holds an entry that is not a regular file")
		return
	case base != entryMetadata && base != entryData && base != entryChecksums:
		r.err = invalid("gem", "holds an entry other than metadata.gz, data.tar.gz, checksums.yaml.gz and their signatures")
		return
	case r.seen[name]:
		r.err = invalid("gem", "holds an entry twice")
		return
	}
	r.seen[name] = true
	switch name {
	case entryData:
		r.cur, r.curSHA256, r.curSHA512 = r.tr, sha256.New(), sha512.New()
		return
	case entryMetadata:
		raw, err := readAtMost(r.tr, r.lim.MaxPrefix)
		if err != nil {
			r.err = err
			return
		}
		r.sums[entryMetadata] = digests(raw)
		yml, err := gunzip(raw, r.lim.MaxMetadata)
		if err != nil {
			r.err = err
			return
		}
		if r.spec, err = ParseSpec(yml); err != nil {
			r.err = err
		}
	default: // checksums.yaml.gz and signatures
		raw, err := readAtMost(r.tr, r.lim.MaxSmall)
		if err != nil {
			r.err = err
			return
		}
		if name == entryChecksums {
			r.checksums = raw
		}
	}
}

// verify checks, at the end of the stream, that the gem held its gemspec and data, and that
// they match checksums.yaml.gz when there is one.
func (r *gemReader) verify() error {
	if r.spec == nil || !r.seen[entryData] {
		return invalid("gem", "must hold metadata.gz and data.tar.gz")
	}
	if r.checksums == nil {
		return nil
	}
	yml, err := gunzip(r.checksums, r.lim.MaxSmall)
	if err != nil {
		return err
	}
	declared, err := ParseChecksums(yml)
	if err != nil {
		return err
	}
	for _, entry := range []string{entryMetadata, entryData} {
		got := r.sums[entry]
		for i, algo := range []string{"SHA256", "SHA512"} {
			if want, ok := declared[algo][entry]; ok && !strings.EqualFold(want, got[i]) {
				return invalid("gem", entry+" does not match its "+algo+" in checksums.yaml.gz")
			}
		}
	}
	return nil
}

// ParseChecksums reads checksums.yaml: algorithm → entry → hex digest.
func ParseChecksums(yml []byte) (map[string]map[string]string, error) {
	var doc map[string]map[string]string
	if err := yaml.Unmarshal(yml, &doc); err != nil {
		return nil, invalid("checksums.yaml.gz", "is not a YAML map of digests")
	}
	return doc, nil
}

func digests(b []byte) [2]string {
	s256, s512 := sha256.Sum256(b), sha512.Sum512(b)
	return [2]string{hex.EncodeToString(s256[:]), hex.EncodeToString(s512[:])}
}

func readAtMost(r io.Reader, n int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(n)+1))
	if err != nil {
		return nil, invalid("gem", "is not a readable tar archive")
	}
	if len(b) > n {
		return nil, fmt.Errorf("%w: an entry of the gem is larger than %d bytes", packages.ErrTooLarge, n)
	}
	return b, nil
}

// gunzip decompresses b, refusing more than n bytes (gzip bombs).
func gunzip(b []byte, n int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, invalid("gem", "holds an entry that is not gzip")
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(n)+1))
	if err != nil {
		return nil, invalid("gem", "holds an entry that is not valid gzip")
	}
	if len(out) > n {
		return nil, fmt.Errorf("%w: an entry of the gem decompresses to more than %d bytes", packages.ErrTooLarge, n)
	}
	return out, nil
}
