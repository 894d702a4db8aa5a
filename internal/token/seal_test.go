package token

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealer(t *testing.T) {
	s := NewSealer([]byte("instance-key"), "label/v1")
	sealed, err := s.Seal([]byte("gldt-secret"), []byte("digest"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("gldt-secret")) {
		t.Fatal("sealed value contains the plaintext")
	}
	if got, err := s.Open(sealed, []byte("digest")); err != nil || string(got) != "gldt-secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	again, _ := s.Seal([]byte("gldt-secret"), []byte("digest"))
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of the same value are equal: nonce reused")
	}
	for name, open := range map[string]func() ([]byte, error){
		"other additional data": func() ([]byte, error) { return s.Open(sealed, []byte("other")) },
		"other label": func() ([]byte, error) {
			return NewSealer([]byte("instance-key"), "label/v2").Open(sealed, []byte("digest"))
		},
		"other instance key": func() ([]byte, error) {
			return NewSealer([]byte("other-key"), "label/v1").Open(sealed, []byte("digest"))
		},
		"truncated": func() ([]byte, error) { return s.Open(sealed[:5], []byte("digest")) },
		"tampered": func() ([]byte, error) {
			b := append([]byte(nil), sealed...)
			b[len(b)-1] ^= 1
			return s.Open(b, []byte("digest"))
		},
	} {
		if _, err := open(); !errors.Is(err, ErrUnseal) {
			t.Errorf("fail/%s: err = %v, want ErrUnseal", name, err)
		}
	}
}
