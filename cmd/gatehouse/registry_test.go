package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"testing"
)

func runGatehouse(t *testing.T, args ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	root := newRoot()
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		t.Fatalf("gatehouse %v: %v\n%s", args, err, out.String())
	}
	return out.Bytes()
}

// TestRegistryKey: the command prints a self-signed certificate over the registry signing key
// (CNCF Distribution's rootcertbundle) and, with --jwks, the same key as a JWKS whose kid is the
// RFC 7638 thumbprint; the key is created once and then kept.
func TestRegistryKey(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GATEHOUSE_SECRET_KEY", "")
	first := runGatehouse(t, "registry", "key", "--data-dir", dir)
	block, rest := pem.Decode(first)
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("not one PEM certificate:\n%s", first)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		t.Fatalf("not self-signed: %v", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("certificate key is %T, want ECDSA", cert.PublicKey)
	}
	if again := runGatehouse(t, "registry", "key", "--data-dir", dir); !bytes.Equal(again, first) {
		t.Fatal("a second run printed another certificate")
	}
	var set struct {
		Keys []struct {
			Kty, Crv, X, Y, Kid, Alg string
			X5c                      []string
		}
	}
	if err := json.Unmarshal(runGatehouse(t, "registry", "key", "--jwks", "--data-dir", dir), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS: %v %+v", err, set)
	}
	k := set.Keys[0]
	raw, _ := pub.Bytes()
	x, y := base64.RawURLEncoding.EncodeToString(raw[1:33]), base64.RawURLEncoding.EncodeToString(raw[33:])
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	if k.Kty != "EC" || k.Crv != "P-256" || k.Alg != "ES256" || k.X != x || k.Y != y ||
		k.Kid != base64.RawURLEncoding.EncodeToString(sum[:]) || len(k.X5c) != 1 || k.X5c[0] != base64.StdEncoding.EncodeToString(cert.Raw) {
		t.Fatalf("JWKS key %+v does not match the certificate", k)
	}
}
