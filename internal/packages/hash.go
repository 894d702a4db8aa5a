package packages

import (
	"crypto/md5" // GitLab and clients still ask for MD5 (file_md5, Maven .md5); never used for security
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
)

// Hasher computes MD5, SHA-1, SHA-256 and SHA-512 of everything written to it, so one pass over
// an upload yields every checksum a format serves. It never fails a Write.
type Hasher struct {
	md5, sha1, sha256, sha512 hash.Hash
	n                         int64
}

// NewHasher returns an empty Hasher.
func NewHasher() *Hasher {
	return &Hasher{md5: md5.New(), sha1: sha1.New(), sha256: sha256.New(), sha512: sha512.New()}
}

// Write adds p to all four digests.
func (h *Hasher) Write(p []byte) (int, error) {
	h.md5.Write(p)
	h.sha1.Write(p)
	h.sha256.Write(p)
	h.sha512.Write(p)
	h.n += int64(len(p))
	return len(p), nil
}

// Size is the number of bytes written.
func (h *Hasher) Size() int64 { return h.n }

// Sums returns the four digests as lower-case hex.
func (h *Hasher) Sums() Checksums {
	return Checksums{
		MD5:    hex.EncodeToString(h.md5.Sum(nil)),
		SHA1:   hex.EncodeToString(h.sha1.Sum(nil)),
		SHA256: hex.EncodeToString(h.sha256.Sum(nil)),
		SHA512: hex.EncodeToString(h.sha512.Sum(nil)),
	}
}

// SumsOf returns the checksums of b.
func SumsOf(b []byte) Checksums {
	h := NewHasher()
	h.Write(b)
	return h.Sums()
}
