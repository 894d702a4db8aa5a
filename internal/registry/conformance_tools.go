//go:build tools

package registry

// The OCI conformance suite is pinned in go.mod through this import; the tests build it with
// `go test -c github.com/opencontainers/distribution-spec/conformance`.
import _ "github.com/opencontainers/distribution-spec/conformance"
