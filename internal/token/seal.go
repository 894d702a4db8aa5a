package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// Sealer encrypts the few secrets Gatehouse must be able to read back (the CI deploy token, the
// registry signing key) with AES-256-GCM under a key derived from the instance key, which lives
// outside the database: a database dump alone reveals none of them.
type Sealer struct{ aead cipher.AEAD }

// NewSealer derives a sealing key for label (one label per kind of secret) from instanceKey.
func NewSealer(instanceKey []byte, label string) *Sealer {
	m := hmac.New(sha256.New, instanceKey)
	m.Write([]byte(label))
	block, _ := aes.NewCipher(m.Sum(nil)) // a 32-byte key never fails
	aead, _ := cipher.NewGCM(block)       // the standard nonce and tag sizes never fail
	return &Sealer{aead: aead}
}

// ErrUnseal: the sealed value is malformed, or was sealed under another key or label.
var ErrUnseal = errors.New("sealed secret cannot be opened with this instance key")

// Seal encrypts plaintext, binding it to additional (which Open must be given again); the
// result is nonce || ciphertext.
func (s *Sealer) Seal(plaintext, additional []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plaintext, additional), nil
}

// Open decrypts what Seal returned, or fails with ErrUnseal.
func (s *Sealer) Open(sealed, additional []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrUnseal
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], additional)
	if err != nil {
		return nil, ErrUnseal
	}
	return out, nil
}
