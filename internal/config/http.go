package config

import (
	"errors"
	"fmt"
	"time"
)

// HTTP configures the HTTP server's timeouts and its per-client connection cap.
type HTTP struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout is how long one read of a request body may wait for bytes. Each read moves
	// the deadline, so an upload is cut only when it stalls, never for being long.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout is how long one write of a response may wait for the client to take bytes;
	// a download is cut only when it stalls.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout bounds a kept-alive connection waiting for its next request.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConnsPerIP caps the connections one client (an IPv4 address or an IPv6 /64) may hold
	// open at once; 0 disables the cap.
	MaxConnsPerIP int `yaml:"max_conns_per_ip"`
	// ExemptLoopback leaves loopback clients uncapped, as the failed-auth ban does by default:
	// behind a reverse proxy on the same host every client arrives from loopback.
	ExemptLoopback bool `yaml:"exempt_loopback"`
}

// DefaultHTTP returns the HTTP defaults (the settings table says why they are what they are).
func DefaultHTTP() HTTP { return Default().HTTP }

func (h *HTTP) validate() error {
	for name, d := range map[string]time.Duration{"read_header_timeout": h.ReadHeaderTimeout,
		"read_timeout": h.ReadTimeout, "write_timeout": h.WriteTimeout, "idle_timeout": h.IdleTimeout} {
		if d <= 0 {
			return fmt.Errorf("http.%s: must be positive", name)
		}
	}
	if h.MaxConnsPerIP < 0 {
		return errors.New("http.max_conns_per_ip: must not be negative (0 disables the cap)")
	}
	return nil
}
