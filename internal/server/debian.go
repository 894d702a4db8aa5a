package server

import (
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// debianSealer seals the Debian distributions' signing keys under the instance key (read again:
// the server checked it at start), or is nil when it cannot be read, and then no distribution
// can be created or sign.
func debianSealer(cfg config.Config) *token.Sealer {
	key, err := instanceKey(cfg)
	if err != nil {
		return nil
	}
	return token.NewSealer(key, "gatehouse/debian-distribution-key/v1")
}
