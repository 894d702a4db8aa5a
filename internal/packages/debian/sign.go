package debian

import (
	"bytes"
	"crypto"
	_ "crypto/sha256" // SHA-256, the signatures' hash
	"errors"
	"io"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// A distribution's signing key is an OpenPGP v4 Ed25519 key: apt's gpgv (GnuPG 2.2 and later)
// verifies its signatures, and it is small and fast to make.

func pgpConfig(now time.Time) *packet.Config {
	return &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: crypto.SHA256,
		Time: func() time.Time { return now }}
}

// GenerateKey makes a distribution's signing key, named name, and returns its private key (the
// OpenPGP transferable secret key, to be sealed) and its ASCII-armored public key.
func GenerateKey(name string, now time.Time) (private []byte, public string, err error) {
	e, err := openpgp.NewEntity(name, "", "", pgpConfig(now))
	if err != nil {
		return nil, "", err
	}
	var priv bytes.Buffer
	if err := e.SerializePrivate(&priv, pgpConfig(now)); err != nil {
		return nil, "", err
	}
	var pub bytes.Buffer
	w, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, "", err
	}
	if err := e.Serialize(w); err != nil {
		return nil, "", err
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	pub.WriteByte('\n')
	return priv.Bytes(), pub.String(), nil
}

// Signer signs a distribution's Release file.
type Signer struct{ e *openpgp.Entity }

// NewSigner reads a private key GenerateKey made.
func NewSigner(private []byte) (*Signer, error) {
	e, err := openpgp.ReadEntity(packet.NewReader(bytes.NewReader(private)))
	if err != nil {
		return nil, err
	}
	if e.PrivateKey == nil || e.PrivateKey.Encrypted {
		return nil, errors.New("debian signing key holds no usable private key")
	}
	return &Signer{e: e}, nil
}

// ClearSign returns msg clear-signed (InRelease).
func (s *Signer) ClearSign(msg []byte, now time.Time) ([]byte, error) {
	var out bytes.Buffer
	w, err := clearsign.Encode(&out, s.e.PrivateKey, pgpConfig(now))
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(msg); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// DetachSign returns msg's armored detached signature (Release.gpg).
func (s *Signer) DetachSign(msg []byte, now time.Time) ([]byte, error) {
	var out bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&out, s.e, io.NopCloser(bytes.NewReader(msg)), pgpConfig(now)); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
