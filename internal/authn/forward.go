package authn

import "net/http"

// packageCredentialHeaders are the headers PackagesWith reads credentials from (a format's own
// TokenHeaders aside).
var packageCredentialHeaders = [...]string{"Deploy-Token", "Private-Token", "Authorization"}

// PackageCredentials returns the credential headers of r that PackagesWith reads, for a format
// that must carry them to a later request of the same client: the Terraform registry seals them
// into its short-lived download link, because the client fetches that link without its registry
// credentials. The values are secrets: seal them at once, never log or show them.
func PackageCredentials(r *http.Request) map[string]string {
	out := map[string]string{}
	for _, k := range packageCredentialHeaders {
		if v := r.Header.Get(k); v != "" {
			out[k] = v
		}
	}
	return out
}

// WithPackageCredentials returns a copy of r whose credential headers are exactly creds (as
// PackageCredentials returned them); the request is then authenticated as the one they came from.
func WithPackageCredentials(r *http.Request, creds map[string]string) *http.Request {
	out := r.Clone(r.Context())
	for _, k := range packageCredentialHeaders {
		out.Header.Del(k)
		if v, ok := creds[k]; ok {
			out.Header.Set(k, v)
		}
	}
	return out
}
