package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/blob"
	"github.com/gatehouse-dev/gatehouse/internal/oci"
	"github.com/gatehouse-dev/gatehouse/internal/ocihttp"
)

// DefaultUpstreamURL is Docker Hub's registry endpoint.
const DefaultUpstreamURL = "https://registry-1.docker.io"

// dockerHubHosts are the hosts for which one-component image names get Docker's "library/".
var dockerHubHosts = map[string]bool{"registry-1.docker.io": true, "index.docker.io": true, "docker.io": true,
	"registry.hub.docker.com": true}

// manifestAccept lists every manifest type the proxy caches, as it asks the upstream for them.
var manifestAccept = strings.Join([]string{oci.MediaTypeOCIIndex, oci.MediaTypeDockerManifestList,
	oci.MediaTypeOCIManifest, oci.MediaTypeDockerManifest}, ", ")

// secret is a credential that never prints itself (String, GoString, %v, JSON, slog).
type secret string

const redacted = "[REDACTED]"

func (secret) String() string               { return redacted }
func (secret) GoString() string             { return redacted }
func (secret) Format(f fmt.State, _ rune)   { _, _ = io.WriteString(f, redacted) }
func (secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (secret) LogValue() slog.Value         { return slog.StringValue(redacted) }

// UpstreamConfig configures the client of the upstream registry.
type UpstreamConfig struct {
	// URL is the registry's base URL: scheme and host, e.g. https://registry-1.docker.io.
	URL string
	// Username and Password, when set, are presented to the upstream's token realm (or as basic
	// auth when the upstream asks for that). Never logged.
	Username string
	Password string
	// Client is the HTTP client; nil means one with connection and header timeouts.
	Client *http.Client
}

// Upstream is a pull-only client of the upstream registry that follows its Docker token-auth
// challenges and caches the tokens per image. It is safe for concurrent use.
type Upstream struct {
	base      string
	https     bool
	dockerHub bool
	user      string
	pass      secret
	client    *http.Client
	// now is the clock for upstream token lifetimes: real time, the upstream's, not Gatehouse's
	// (which tests move).
	now func() time.Time

	mu     sync.Mutex
	tokens map[string]upstreamToken // by scope
	basic  bool                     // the upstream asked for basic auth
}

type upstreamToken struct {
	value   secret
	expires time.Time
}

// NewUpstream returns a client of the registry at cfg.URL; it fails for a URL that is not
// http(s)://host[:port] without credentials, query or path.
func NewUpstream(cfg UpstreamConfig) (*Upstream, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("dependency proxy upstream: %q is not an http(s)://host[:port] URL", redactURL(cfg.URL))
	}
	c := cfg.Client
	if c == nil {
		c = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: time.Minute,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   16,
			ForceAttemptHTTP2:     true,
		}}
	}
	return &Upstream{base: u.Scheme + "://" + u.Host, https: u.Scheme == "https", dockerHub: dockerHubHosts[u.Hostname()],
		user: cfg.Username, pass: secret(cfg.Password), client: c, now: time.Now, tokens: map[string]upstreamToken{}}, nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// ImagePath is image's name on the upstream: Docker Hub's one-component names live under
// "library/", as the Docker client assumes.
func (u *Upstream) ImagePath(image oci.Name) string {
	s := string(image)
	if u.dockerHub && !strings.Contains(s, "/") {
		return "library/" + s
	}
	return s
}

// Upstream failures. upstreamError carries the status (0 when the upstream could not be
// reached); errCorrupt is content that does not match its digest.
type upstreamError struct {
	status int
	cause  error
}

func (e *upstreamError) Error() string {
	if e.status == 0 {
		return "upstream registry unreachable: " + e.cause.Error()
	}
	if e.cause != nil {
		return fmt.Sprintf("upstream registry answered %d: %v", e.status, e.cause)
	}
	return fmt.Sprintf("upstream registry answered %d", e.status)
}

func (e *upstreamError) Unwrap() error { return e.cause }

var (
	errCorrupt          = errors.New("upstream content does not match its digest")
	errUnsupportedMedia = errors.New("upstream manifest is not a supported type")
)

func statusError(resp *http.Response) error {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return &upstreamError{status: resp.StatusCode}
}

// upstreamFailure maps an upstream failure to the error the client gets; unknown says what is
// missing (a manifest or a blob) when the upstream does not have it or refuses it.
func upstreamFailure(err error, unknown ocihttp.Code) error {
	var ue *upstreamError
	switch {
	case errors.Is(err, errCorrupt):
		return &ocihttp.Error{Code: codeUpstreamCorrupt, Cause: err}
	case errors.Is(err, errUnsupportedMedia):
		return &ocihttp.Error{Code: codeUpstreamManifest, Cause: err}
	case errors.As(err, &ue):
		switch {
		case ue.status == http.StatusNotFound:
			return ocihttp.Fail(unknown, "not found upstream")
		case ue.status == http.StatusUnauthorized || ue.status == http.StatusForbidden:
			return ocihttp.Fail(unknown, "the upstream registry refused access to this image")
		case ue.status == http.StatusTooManyRequests:
			return &ocihttp.Error{Code: codeTooManyRequests, Cause: err}
		}
		return &ocihttp.Error{Code: codeUpstreamDown, Cause: err}
	}
	return err
}

// remoteManifest is what a HEAD of a manifest tells.
type remoteManifest struct {
	digest    blob.Digest // "" when the upstream did not say
	mediaType string
	size      int64
}

// headManifest asks the upstream which manifest ref names (HEAD: Docker Hub does not count it
// toward its pull rate limit).
func (u *Upstream) headManifest(ctx context.Context, image, ref string) (remoteManifest, error) {
	resp, err := u.do(ctx, http.MethodHead, image, "manifests/"+ref, manifestAccept)
	if err != nil {
		return remoteManifest{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return remoteManifest{}, statusError(resp)
	}
	m := remoteManifest{mediaType: mediaType(resp.Header.Get("Content-Type")), size: resp.ContentLength}
	if d, err := blob.ParseDigest(resp.Header.Get("Docker-Content-Digest")); err == nil {
		m.digest = d
	}
	return m, nil
}

// getManifest fetches the manifest ref names, at most oci.MaxManifestSize bytes. digest is the
// upstream's Docker-Content-Digest, or "".
func (u *Upstream) getManifest(ctx context.Context, image, ref string) (body []byte, contentType string, digest blob.Digest, err error) {
	resp, err := u.do(ctx, http.MethodGet, image, "manifests/"+ref, manifestAccept)
	if err != nil {
		return nil, "", "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", "", statusError(resp)
	}
	if resp.ContentLength > oci.MaxManifestSize {
		return nil, "", "", fmt.Errorf("%w: manifest of %d bytes", errUnsupportedMedia, resp.ContentLength)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, oci.MaxManifestSize+1))
	if err != nil {
		return nil, "", "", &upstreamError{cause: err}
	}
	if len(body) > oci.MaxManifestSize {
		return nil, "", "", fmt.Errorf("%w: manifest larger than %d bytes", errUnsupportedMedia, oci.MaxManifestSize)
	}
	if d, err := blob.ParseDigest(resp.Header.Get("Docker-Content-Digest")); err == nil {
		digest = d
	}
	return body, resp.Header.Get("Content-Type"), digest, nil
}

// getBlob starts fetching blob d; the caller reads and closes the body of the 200 answer.
func (u *Upstream) getBlob(ctx context.Context, image string, d blob.Digest) (*http.Response, error) {
	resp, err := u.do(ctx, http.MethodGet, image, "blobs/"+string(d), "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp)
	}
	return resp, nil
}

// headBlob asks the upstream whether it has blob d, and its size (-1 if it does not say).
func (u *Upstream) headBlob(ctx context.Context, image string, d blob.Digest) (int64, error) {
	resp, err := u.do(ctx, http.MethodHead, image, "blobs/"+string(d), "")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, statusError(resp)
	}
	return resp.ContentLength, nil
}

func mediaType(ct string) string {
	t, _, _ := strings.Cut(ct, ";")
	return strings.TrimSpace(t)
}

// do sends a request for /v2/<image>/<endpoint>, authenticating as the upstream's challenge
// asks (once) when it answers 401. image and endpoint are validated names and references.
func (u *Upstream) do(ctx context.Context, method, image, endpoint, accept string) (*http.Response, error) {
	target := u.base + "/v2/" + image + "/" + endpoint
	scope := "repository:" + image + ":pull"
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, target, nil)
		if err != nil {
			return nil, err
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		req.Header.Set("User-Agent", "Gatehouse-dependency-proxy")
		if auth := u.authorization(scope); auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := u.client.Do(req)
		if err != nil {
			return nil, &upstreamError{cause: err}
		}
		if resp.StatusCode != http.StatusUnauthorized || attempt > 0 {
			return resp, nil
		}
		challenges := resp.Header.Values("WWW-Authenticate")
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err := u.authenticate(ctx, challenges, scope); err != nil {
			return nil, err
		}
	}
}

// authorization is the Authorization header for scope: a cached bearer token, or basic auth
// when the upstream asked for it; "" for none.
func (u *Upstream) authorization(scope string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if t, ok := u.tokens[scope]; ok && u.now().Before(t.expires) {
		return "Bearer " + string(t.value)
	}
	if u.basic && u.user != "" {
		return basicAuth(u.user, string(u.pass))
	}
	return ""
}

func basicAuth(user, pass string) string {
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// authenticate answers the upstream's 401 challenges: a Bearer challenge sends it to the token
// realm (with the upstream credentials, if any); a Basic one switches to basic auth.
func (u *Upstream) authenticate(ctx context.Context, challenges []string, scope string) error {
	for _, c := range challenges {
		scheme, params := parseChallenge(c)
		switch strings.ToLower(scheme) {
		case "bearer":
			if params["realm"] == "" {
				continue
			}
			tok, err := u.fetchToken(ctx, params["realm"], params["service"], scope)
			if err != nil {
				return err
			}
			u.mu.Lock()
			u.tokens[scope] = tok
			if len(u.tokens) > 4096 {
				for k, t := range u.tokens {
					if !u.now().Before(t.expires) {
						delete(u.tokens, k)
					}
				}
			}
			u.mu.Unlock()
			return nil
		case "basic":
			if u.user == "" {
				return &upstreamError{status: http.StatusUnauthorized}
			}
			u.mu.Lock()
			u.basic = true
			u.mu.Unlock()
			return nil
		}
	}
	return &upstreamError{status: http.StatusUnauthorized, cause: errors.New("no usable authentication challenge")}
}

// maxTokenAnswer bounds a token endpoint's answer.
const maxTokenAnswer = 1 << 20

// fetchToken asks the token realm for a pull token for scope.
func (u *Upstream) fetchToken(ctx context.Context, realm, service, scope string) (upstreamToken, error) {
	ru, err := url.Parse(realm)
	if err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" || ru.User != nil {
		return upstreamToken{}, &upstreamError{status: http.StatusUnauthorized, cause: errors.New("the upstream's token realm is not an http(s) URL")}
	}
	if u.user != "" && u.https && ru.Scheme != "https" {
		// Credentials for an https upstream never travel in clear text.
		return upstreamToken{}, &upstreamError{status: http.StatusUnauthorized, cause: errors.New("the upstream's token realm is not https")}
	}
	q := ru.Query()
	if service != "" {
		q.Set("service", service)
	}
	q.Set("scope", scope)
	ru.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ru.String(), nil)
	if err != nil {
		return upstreamToken{}, err
	}
	req.Header.Set("User-Agent", "Gatehouse-dependency-proxy")
	if u.user != "" {
		req.SetBasicAuth(u.user, string(u.pass))
	}
	now := u.now()
	resp, err := u.client.Do(req)
	if err != nil {
		return upstreamToken{}, &upstreamError{cause: fmt.Errorf("token realm: %w", err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		status := resp.StatusCode
		if status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound {
			status = http.StatusUnauthorized
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return upstreamToken{}, &upstreamError{status: status, cause: fmt.Errorf("token realm answered %d", resp.StatusCode)}
	}
	var body struct {
		Token       string          `json:"token"`
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxTokenAnswer)).Decode(&body); err != nil {
		return upstreamToken{}, &upstreamError{status: http.StatusBadGateway, cause: errors.New("token realm answer is not JSON")}
	}
	t := body.Token
	if t == "" {
		t = body.AccessToken
	}
	if t == "" || strings.ContainsAny(t, "\r\n") {
		return upstreamToken{}, &upstreamError{status: http.StatusBadGateway, cause: errors.New("token realm answered no token")}
	}
	// The token spec's default lifetime is 60 seconds; renew 10 seconds early.
	ttl := 60
	if n, err := strconv.Atoi(strings.TrimSpace(string(body.ExpiresIn))); err == nil && n > 60 {
		ttl = n
	}
	return upstreamToken{value: secret(t), expires: now.Add(time.Duration(ttl-10) * time.Second)}, nil
}

// maxChallenge bounds a WWW-Authenticate value the parser reads.
const maxChallenge = 4096

// parseChallenge parses the first challenge of a WWW-Authenticate value (RFC 9110 §11.6.1):
// the scheme and its auth-params, names lower-cased, quoted values unescaped. Malformed input
// gives what could be read; it never fails.
func parseChallenge(h string) (scheme string, params map[string]string) {
	if len(h) > maxChallenge {
		h = h[:maxChallenge]
	}
	h = strings.TrimLeft(h, " \t")
	i := strings.IndexAny(h, " \t")
	if i < 0 {
		return h, map[string]string{}
	}
	scheme, rest := h[:i], h[i:]
	params = map[string]string{}
	for {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			return scheme, params
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return scheme, params
		}
		key := strings.ToLower(strings.TrimRight(rest[:eq], " \t"))
		if !isToken(key) {
			// A new challenge starts ("…, Basic realm=…"), or garbage: only the first challenge
			// is read.
			return scheme, params
		}
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			j := 1
			for ; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\\' && j+1 < len(rest) {
					j++
				}
				b.WriteByte(rest[j])
			}
			val = b.String()
			rest = rest[min(j+1, len(rest)):]
		} else {
			end := strings.IndexAny(rest, ", \t")
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		if _, seen := params[key]; !seen {
			params[key] = val
		}
	}
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
