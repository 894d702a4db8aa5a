// Package jwtauth is the Docker token service of the container registry and the dependency
// proxy. GET /jwt/auth authenticates the client (deploy token, personal access token, password or
// none), asks each audience's Grantor which of the requested actions the principal gets, and
// returns a signed JWT whose access claim holds exactly requested ∩ allowed (possibly nothing).
// The package also keeps the signing key (one per instance, shared by every node) and Issuer.Verify,
// with which the registry and the proxy check a bearer token and learn the credential behind it,
// so that a revoked credential stops on its next request rather than at the token's expiry.
package jwtauth
