package config

import "net/netip"

// Metrics guards the Prometheus metrics at /-/metrics: a scrape is answered when it comes from
// an address of Allow or carries Token as a bearer token.
type Metrics struct {
	// Allow holds the IPs and CIDRs that may scrape without the token, as written;
	// AllowPrefixes parses it. Empty: only the token opens the metrics.
	Allow []string `yaml:"allow"`
	// Token, when set, opens the metrics from any address (Authorization: Bearer).
	Token Secret `yaml:"token"`
}

// AllowPrefixes parses Allow; a bad entry is an error that names it.
func (m Metrics) AllowPrefixes() ([]netip.Prefix, error) {
	return parsePrefixes("metrics.allow", m.Allow)
}
