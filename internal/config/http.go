package config

import (
	"errors"
	"fmt"
	"strconv"
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

// DefaultHTTP: a minute without progress ends a read or write; 256 connections per client is
// far above what a browser (6), docker (3 per pull) or a CI runner fleet behind one NAT needs
// per address, and far below what ties up a server.
func DefaultHTTP() HTTP {
	return HTTP{ReadHeaderTimeout: 30 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, MaxConnsPerIP: 256, ExemptLoopback: true}
}

// fromEnv reads GATEHOUSE_HTTP_READ_HEADER_TIMEOUT, _READ_TIMEOUT, _WRITE_TIMEOUT,
// _IDLE_TIMEOUT, _MAX_CONNS_PER_IP and _EXEMPT_LOOPBACK.
func (h *HTTP) fromEnv(getenv func(string) string) error {
	for k, p := range map[string]*time.Duration{"GATEHOUSE_HTTP_READ_HEADER_TIMEOUT": &h.ReadHeaderTimeout,
		"GATEHOUSE_HTTP_READ_TIMEOUT": &h.ReadTimeout, "GATEHOUSE_HTTP_WRITE_TIMEOUT": &h.WriteTimeout,
		"GATEHOUSE_HTTP_IDLE_TIMEOUT": &h.IdleTimeout} {
		if v := getenv(k); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			*p = d
		}
	}
	if err := envInt(getenv, "GATEHOUSE_HTTP_MAX_CONNS_PER_IP", &h.MaxConnsPerIP); err != nil {
		return err
	}
	if v := getenv("GATEHOUSE_HTTP_EXEMPT_LOOPBACK"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("GATEHOUSE_HTTP_EXEMPT_LOOPBACK: %w", err)
		}
		h.ExemptLoopback = b
	}
	return nil
}

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
