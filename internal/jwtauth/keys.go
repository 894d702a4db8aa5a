package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// SettingKey is the instance setting holding the registry signing key (shared by every node).
const SettingKey = "registry.jwt_signing_key"

// Key is the registry token signing key: ECDSA P-256 (ES256, which CNCF Distribution's token
// auth verifies) with a self-signed certificate over it. Its key id is the RFC 7638 JWK
// thumbprint, which Distribution computes for keys given as a JWKS. The private half never
// prints itself.
type Key struct {
	private *ecdsa.PrivateKey
	kid     string
	certDER []byte
}

// String, GoString, Format, MarshalJSON and LogValue never show the private key.
func (k *Key) String() string             { return "ES256 key " + k.kid + " [REDACTED]" }
func (k *Key) GoString() string           { return k.String() }
func (k *Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }
func (k *Key) LogValue() slog.Value       { return slog.StringValue(k.String()) }

// MarshalJSON shows the key id only.
func (k *Key) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// GenerateKey makes a new P-256 key and a ten-year self-signed certificate for it.
func GenerateKey(now time.Time) (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Gatehouse registry token signer", Organization: []string{"Gatehouse"}},
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              now.AddDate(10, 0, 0).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("self-sign certificate: %w", err)
	}
	return newKey(priv, der)
}

func newKey(priv *ecdsa.PrivateKey, certDER []byte) (*Key, error) {
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&priv.PublicKey) {
		return nil, errors.New("certificate does not match the signing key")
	}
	return &Key{private: priv, kid: thumbprint(&priv.PublicKey), certDER: certDER}, nil
}

// KeyID is the key's RFC 7638 thumbprint (base64url SHA-256), used as the JWT "kid".
func (k *Key) KeyID() string { return k.kid }

// Public returns the public key.
func (k *Key) Public() *ecdsa.PublicKey { return &k.private.PublicKey }

// CertificateDER is the self-signed certificate (for the JWT "x5c" header).
func (k *Key) CertificateDER() []byte { return k.certDER }

// CertificatePEM is the certificate in PEM, as CNCF Distribution's rootcertbundle wants it.
func (k *Key) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.certDER})
}

// coord encodes a P-256 coordinate as 32 big-endian bytes (RFC 7518 §6.2.1.2).
func coord(pub *ecdsa.PublicKey) (x, y string) {
	raw, _ := pub.Bytes() // 0x04 || X || Y, fixed length for P-256
	return base64.RawURLEncoding.EncodeToString(raw[1:33]), base64.RawURLEncoding.EncodeToString(raw[33:65])
}

// thumbprint is the RFC 7638 JWK thumbprint of a P-256 key.
func thumbprint(pub *ecdsa.PublicKey) string {
	x, y := coord(pub)
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// JWK is a public JSON Web Key.
type JWK struct {
	Kty string   `json:"kty"`
	Crv string   `json:"crv"`
	X   string   `json:"x"`
	Y   string   `json:"y"`
	Kid string   `json:"kid"`
	Use string   `json:"use"`
	Alg string   `json:"alg"`
	X5c []string `json:"x5c,omitempty"`
}

// JWKS returns the public key as a JSON Web Key Set (for Distribution's "jwks" option).
func (k *Key) JWKS() ([]byte, error) {
	x, y := coord(k.Public())
	set := struct {
		Keys []JWK `json:"keys"`
	}{Keys: []JWK{{Kty: "EC", Crv: "P-256", X: x, Y: y, Kid: k.kid, Use: "sig", Alg: "ES256",
		X5c: []string{base64.StdEncoding.EncodeToString(k.certDER)}}}}
	return json.MarshalIndent(set, "", "  ")
}

// Settings is the instance-settings store the key is kept in; *sqlstore.SettingsStore implements it.
type Settings interface {
	Setting(ctx context.Context, key string) (value string, ok bool, err error)
	SetSettingIfAbsent(ctx context.Context, key, value string) (string, error)
}

// storedKey is the setting's JSON: the certificate in clear, the private key sealed with
// AES-256-GCM under a key derived from the instance secret (so a database dump alone does not
// give the signing key away).
type storedKey struct {
	Version     int    `json:"v"`
	Certificate string `json:"certificate"`
	Sealed      string `json:"sealed_private_key"`
}

// sealLabel derives the signing key's sealing key from the instance secret.
const sealLabel = "gatehouse/registry-signing-key/v1"

// LoadOrCreateKey returns the instance's signing key, generating and storing it on first start.
// When several nodes start at once, all of them end up with the one that was stored first.
// secret is the instance secret that seals the private key.
func LoadOrCreateKey(ctx context.Context, settings Settings, secret []byte, now time.Time) (*Key, error) {
	raw, ok, err := settings.Setting(ctx, SettingKey)
	if err != nil {
		return nil, fmt.Errorf("load registry signing key: %w", err)
	}
	if !ok {
		k, err := GenerateKey(now)
		if err != nil {
			return nil, err
		}
		pkcs8, err := x509.MarshalPKCS8PrivateKey(k.private)
		if err != nil {
			return nil, err
		}
		sealed, err := token.NewSealer(secret, sealLabel).Seal(pkcs8, k.certDER)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(storedKey{Version: 1, Certificate: base64.StdEncoding.EncodeToString(k.certDER),
			Sealed: base64.StdEncoding.EncodeToString(sealed)})
		if err != nil {
			return nil, err
		}
		if raw, err = settings.SetSettingIfAbsent(ctx, SettingKey, string(b)); err != nil {
			return nil, fmt.Errorf("store registry signing key: %w", err)
		}
	}
	return openKey(raw, secret)
}

func openKey(raw string, secret []byte) (*Key, error) {
	var sk storedKey
	if err := json.Unmarshal([]byte(raw), &sk); err != nil || sk.Version != 1 {
		return nil, errors.New("registry signing key setting is malformed")
	}
	certDER, err := base64.StdEncoding.DecodeString(sk.Certificate)
	if err != nil {
		return nil, errors.New("registry signing key certificate is malformed")
	}
	sealed, err := base64.StdEncoding.DecodeString(sk.Sealed)
	if err != nil {
		return nil, errors.New("registry signing key is malformed")
	}
	pkcs8, err := token.NewSealer(secret, sealLabel).Open(sealed, certDER)
	if err != nil {
		return nil, errors.New("registry signing key cannot be opened with this instance's secret key")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		return nil, fmt.Errorf("parse registry signing key: %w", err)
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, errors.New("registry signing key is not an ECDSA P-256 key")
	}
	return newKey(priv, certDER)
}

// Derive returns a 32-byte secret for label derived from the private key (HMAC-SHA-256), for
// MACs that every node must agree on without another stored secret.
func (k *Key) Derive(label string) []byte {
	scalar, _ := k.private.Bytes() // never fails for a P-256 key
	m := hmac.New(sha256.New, scalar)
	m.Write([]byte("gatehouse/derive/" + label))
	return m.Sum(nil)
}
