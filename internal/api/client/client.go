// Package client is a small typed client for Gatehouse's REST API v4 (the GitLab-shaped deploy
// token, project and group endpoints). It authenticates with a personal access token sent as
// PRIVATE-TOKEN. The token never appears in an error string, and a created deploy token's secret
// is a Secret that does not print itself.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one Gatehouse server's REST API. Its zero value is not usable; use New.
type Client struct {
	base  string // scheme://host[/prefix], without a trailing slash
	token string // the personal access token; never formatted into errors or logs
	http  *http.Client
}

// Option adjusts a Client built by New.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through hc instead of a default client with a
// 60-second timeout. Redirects are refused either way (see New).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		cp := *hc
		c.http = &cp
	}
}

// New returns a client for the server at baseURL ("https://gatehouse.example.com", optionally with
// a path prefix) that authenticates with the personal access token pat. It fails when baseURL is
// not an absolute http(s) URL or carries credentials, or when pat is empty.
//
// Redirects are never followed: Go would resend the PRIVATE-TOKEN header to wherever the server
// points, so a 3xx answer is returned as an *Error instead.
func New(baseURL, pat string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q is not an absolute http(s) URL", redactURL(baseURL))
	}
	if u.User != nil {
		return nil, errors.New("server URL must not contain credentials; pass the token separately")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server URL %q must not have a query or fragment", redactURL(baseURL))
	}
	if strings.TrimSpace(pat) == "" {
		return nil, errors.New("no personal access token given")
	}
	c := &Client{base: strings.TrimRight(u.String(), "/"), token: pat, http: &http.Client{Timeout: 60 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}

// BaseURL returns the server URL the client talks to.
func (c *Client) BaseURL() string { return c.base }

// String describes the client without its token.
func (c *Client) String() string { return "gatehouse API client for " + c.base }

// GoString describes the client without its token.
func (c *Client) GoString() string { return c.String() }

// Error is a non-2xx answer from the API. Message is the server's {"message"} (or {"error"})
// text; it never contains the client's token.
type Error struct {
	StatusCode int
	Method     string
	Path       string // the request path, without host or query
	Message    string
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("%s %s: %d: %s", e.Method, e.Path, e.StatusCode, msg)
}

// StatusCode returns the HTTP status of an *Error in err's chain, or 0 when there is none (for
// example a network error).
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// IsNotFound reports whether err is a 404 answer (which the API also gives for resources the
// caller may not see).
func IsNotFound(err error) bool { return StatusCode(err) == http.StatusNotFound }

// Secret is a credential returned by the API (a new deploy token's secret). It never prints
// itself: String, GoString, Format, MarshalJSON and slog show "[REDACTED]"; Reveal reads it.
type Secret struct{ v string }

const redacted = "[REDACTED]"

// Reveal returns the raw value.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty (list and get answers carry none).
func (s Secret) IsZero() bool { return s.v == "" }

func (Secret) String() string               { return redacted }
func (Secret) GoString() string             { return redacted }
func (Secret) Format(f fmt.State, _ rune)   { _, _ = io.WriteString(f, redacted) }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
func (Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }

// UnmarshalJSON reads the secret from a JSON string (or null).
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v *string
	if err := json.Unmarshal(b, &v); err != nil {
		return errors.New("token: not a JSON string")
	}
	s.v = ""
	if v != nil {
		s.v = *v
	}
	return nil
}

// DeployToken is the API's view of a deploy token. Token is set only in the answer to a create.
type DeployToken struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Username   string     `json:"username"`
	ExpiresAt  *time.Time `json:"expires_at"`
	Scopes     []string   `json:"scopes"`
	Revoked    bool       `json:"revoked"`
	Expired    bool       `json:"expired"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Token      Secret     `json:"token"`
}

// CreateDeployTokenOptions is the body of a create. Name and Scopes are required; ExpiresAt is
// "YYYY-MM-DD" or RFC 3339 (empty: never expires); Username empty gives the default
// gitlab+deploy-token-{id}.
type CreateDeployTokenOptions struct {
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	ExpiresAt string   `json:"expires_at,omitempty"`
	Username  string   `json:"username,omitempty"`
}

// ListDeployTokensOptions filters a list.
type ListDeployTokensOptions struct {
	// Active keeps only tokens that are neither revoked nor expired.
	Active bool
}

// Project is the part of the API's project shape the client needs.
type Project struct {
	ID                int64  `json:"id"`
	Name              string `json:"name"`
	Path              string `json:"path"`
	PathWithNamespace string `json:"path_with_namespace"`
	Visibility        string `json:"visibility"`
	HTTPURLToRepo     string `json:"http_url_to_repo"`
	WebURL            string `json:"web_url"`
}

// Group is the part of the API's group shape the client needs.
type Group struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Path     string `json:"path"`
	FullPath string `json:"full_path"`
	ParentID *int64 `json:"parent_id"`
	WebURL   string `json:"web_url"`
}

// GetProject returns a project by numeric id or full path ("group/sub/project"). It returns an
// *Error with status 404 for a project that does not exist or that the token may not see.
func (c *Client) GetProject(ctx context.Context, project string) (*Project, error) {
	var p Project
	if err := c.do(ctx, http.MethodGet, "/projects/"+ref(project), nil, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetGroup returns a group by numeric id or full path ("group/sub"); 404 as GetProject.
func (c *Client) GetGroup(ctx context.Context, group string) (*Group, error) {
	var g Group
	if err := c.do(ctx, http.MethodGet, "/groups/"+ref(group), nil, nil, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// CreateProjectDeployToken creates a deploy token on a project (id or full path). The answer is
// the only one that carries the token's secret. Validation failures are *Error with status 400.
func (c *Client) CreateProjectDeployToken(ctx context.Context, project string, opts CreateDeployTokenOptions) (*DeployToken, error) {
	return c.createDeployToken(ctx, "/projects/"+ref(project)+"/deploy_tokens", opts)
}

// CreateGroupDeployToken creates a deploy token on a group (id or full path); see
// CreateProjectDeployToken.
func (c *Client) CreateGroupDeployToken(ctx context.Context, group string, opts CreateDeployTokenOptions) (*DeployToken, error) {
	return c.createDeployToken(ctx, "/groups/"+ref(group)+"/deploy_tokens", opts)
}

func (c *Client) createDeployToken(ctx context.Context, path string, opts CreateDeployTokenOptions) (*DeployToken, error) {
	if opts.Scopes == nil {
		opts.Scopes = []string{}
	}
	var t DeployToken
	if err := c.do(ctx, http.MethodPost, path, nil, opts, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// ListProjectDeployTokens returns every deploy token of a project, following pagination.
func (c *Client) ListProjectDeployTokens(ctx context.Context, project string, opts ListDeployTokensOptions) ([]DeployToken, error) {
	return c.listDeployTokens(ctx, "/projects/"+ref(project)+"/deploy_tokens", opts)
}

// ListGroupDeployTokens returns every deploy token of a group, following pagination.
func (c *Client) ListGroupDeployTokens(ctx context.Context, group string, opts ListDeployTokensOptions) ([]DeployToken, error) {
	return c.listDeployTokens(ctx, "/groups/"+ref(group)+"/deploy_tokens", opts)
}

// ListAllDeployTokens returns every deploy token of the instance (administrators only: others get
// an *Error with status 403).
func (c *Client) ListAllDeployTokens(ctx context.Context, opts ListDeployTokensOptions) ([]DeployToken, error) {
	return c.listDeployTokens(ctx, "/deploy_tokens", opts)
}

// maxPages bounds how many pages a list follows, so a misbehaving server cannot loop us forever.
const maxPages = 1000

func (c *Client) listDeployTokens(ctx context.Context, path string, opts ListDeployTokensOptions) ([]DeployToken, error) {
	q := url.Values{"per_page": {"100"}}
	if opts.Active {
		q.Set("active", "true")
	}
	out := []DeployToken{}
	for page := 1; page <= maxPages; page++ {
		q.Set("page", strconv.Itoa(page))
		var batch []DeployToken
		h, err := c.doHeader(ctx, http.MethodGet, path, q, nil, &batch)
		if err != nil {
			return nil, err
		}
		out = append(out, batch...)
		next, err := strconv.Atoi(h.Get("X-Next-Page"))
		if err != nil || next <= page {
			return out, nil
		}
	}
	return nil, fmt.Errorf("GET %s: more than %d pages", path, maxPages)
}

// GetProjectDeployToken returns one deploy token of a project (without its secret).
func (c *Client) GetProjectDeployToken(ctx context.Context, project string, id int64) (*DeployToken, error) {
	var t DeployToken
	if err := c.do(ctx, http.MethodGet, "/projects/"+ref(project)+"/deploy_tokens/"+strconv.FormatInt(id, 10), nil, nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// GetGroupDeployToken returns one deploy token of a group (without its secret).
func (c *Client) GetGroupDeployToken(ctx context.Context, group string, id int64) (*DeployToken, error) {
	var t DeployToken
	if err := c.do(ctx, http.MethodGet, "/groups/"+ref(group)+"/deploy_tokens/"+strconv.FormatInt(id, 10), nil, nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// DeleteProjectDeployToken revokes and destroys a project's deploy token: it stops working at
// once and a later get answers 404.
func (c *Client) DeleteProjectDeployToken(ctx context.Context, project string, id int64) error {
	return c.do(ctx, http.MethodDelete, "/projects/"+ref(project)+"/deploy_tokens/"+strconv.FormatInt(id, 10), nil, nil, nil)
}

// DeleteGroupDeployToken revokes and destroys a group's deploy token; see DeleteProjectDeployToken.
func (c *Client) DeleteGroupDeployToken(ctx context.Context, group string, id int64) error {
	return c.do(ctx, http.MethodDelete, "/groups/"+ref(group)+"/deploy_tokens/"+strconv.FormatInt(id, 10), nil, nil, nil)
}

// ref renders a numeric id or a full path as one URL path segment (slashes become %2F, as the
// API expects).
func ref(idOrPath string) string {
	return url.PathEscape(strings.Trim(strings.TrimSpace(idOrPath), "/"))
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	_, err := c.doHeader(ctx, method, path, q, body, out)
	return err
}

// maxResponse bounds how much of an answer the client reads.
const maxResponse = 16 << 20

// doHeader sends one request to /api/v4+path and decodes a 2xx JSON answer into out. Non-2xx
// answers become *Error.
func (c *Client) doHeader(ctx context.Context, method, path string, q url.Values, body, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	target := c.base + "/api/v4" + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("PRIVATE-TOKEN", c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.redact(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, c.redact(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &Error{StatusCode: resp.StatusCode, Method: method, Path: req.URL.EscapedPath(),
			Message: c.scrub(errorMessage(raw))}
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

// errorMessage extracts GitLab's {"message": …} or {"error": …}; a message that is not a string
// (GitLab sends objects for some validation errors) is rendered as compact JSON.
func errorMessage(raw []byte) string {
	var body map[string]json.RawMessage
	if json.Unmarshal(raw, &body) == nil {
		for _, k := range []string{"message", "error"} {
			v, ok := body[k]
			if !ok {
				continue
			}
			var s string
			if json.Unmarshal(v, &s) == nil {
				return s
			}
			var buf bytes.Buffer
			if json.Compact(&buf, v) == nil {
				return buf.String()
			}
		}
	}
	s := strings.TrimSpace(string(raw))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// scrub removes the client's token from text that came from elsewhere.
func (c *Client) scrub(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, redacted)
}

// redact rewrites a transport error so it cannot carry the token.
func (c *Client) redact(err error) error {
	if err == nil || !strings.Contains(err.Error(), c.token) {
		return err
	}
	return errors.New(c.scrub(err.Error()))
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}

// CIVariable is one predefined CI variable. Masked values (CI_DEPLOY_PASSWORD) are secrets:
// print them only where the caller asked for them.
type CIVariable struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Masked bool   `json:"masked"`
}

// PredefinedCIVariables returns the variables a runner would inject into a project's jobs
// (admin token required): CI_DEPLOY_USER/CI_DEPLOY_PASSWORD while a gitlab-deploy-token applies.
func (c *Client) PredefinedCIVariables(ctx context.Context, project string) ([]CIVariable, error) {
	var out []CIVariable
	if err := c.do(ctx, http.MethodGet, "/projects/"+ref(project)+"/ci/variables/predefined", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
