package ocihttp

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errkind"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/kindtest"
)

func TestWriteError(t *testing.T) {
	for _, c := range []struct {
		name, method, detail, body string
	}{
		{"ok/detail", http.MethodGet, "d", `{"errors":[{"code":"BLOB_UNKNOWN","message":"m","detail":"d"}]}`},
		{"ok/no detail", http.MethodGet, "", `{"errors":[{"code":"BLOB_UNKNOWN","message":"m"}]}`},
		{"ok/HEAD has no body", http.MethodHead, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			e := &Error{Code: Code{"BLOB_UNKNOWN", http.StatusNotFound, "m"}, Detail: c.detail}
			WriteError(w, httptest.NewRequest(c.method, "/v2/", nil), e)
			if w.Code != http.StatusNotFound || w.Body.String() != c.body || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %q %v", w.Code, w.Body.String(), w.Header())
			}
			if c.method == http.MethodHead && w.Header().Get("Content-Length") != "50" {
				t.Fatalf("HEAD Content-Length %q, want the GET body's 50", w.Header().Get("Content-Length"))
			}
		})
	}
	t.Run("ok/internal", func(t *testing.T) {
		w := httptest.NewRecorder()
		WriteInternal(w, httptest.NewRequest(http.MethodGet, "/v2/", nil))
		if w.Code != 500 || w.Body.String() != `{"errors":[{"code":"UNKNOWN","message":"internal server error"}]}` {
			t.Fatalf("got %d %q", w.Code, w.Body.String())
		}
	})
	cause := errors.New("x")
	e := &Error{Code: Code{"C", http.StatusBadGateway, "m"}, Detail: "d", Cause: cause}
	if e.Error() != "C: m: d: x" || !errors.Is(e, cause) {
		t.Fatalf("Error() = %q, Is(cause) = %v", e.Error(), errors.Is(e, cause))
	}
	if s := Fail(CodeDenied, "").Error(); s != "DENIED: requested access to the resource is denied" {
		t.Fatalf("Fail(CodeDenied).Error() = %q", s)
	}
	w := httptest.NewRecorder()
	WriteError(w, httptest.NewRequest(http.MethodGet, "/v2/", nil), e)
	if w.Code != http.StatusBadGateway || w.Body.String() != `{"errors":[{"code":"C","message":"m","detail":"d"}]}` {
		t.Fatalf("an error with a cause wrote %d %q; the cause must not be shown", w.Code, w.Body.String())
	}
}

func TestKindErrorMapsEveryKind(t *testing.T) {
	want := map[error]Code{
		errkind.ErrNotFound:     CodeNameUnknown,
		errkind.ErrConflict:     {"UNSUPPORTED", http.StatusConflict, "the request conflicts with the registry's state"},
		errkind.ErrInvalid:      {"UNSUPPORTED", http.StatusBadRequest, "the request is invalid"},
		errkind.ErrForbidden:    CodeDenied,
		errkind.ErrUnauthorized: CodeUnauthorized,
		errkind.ErrTooLarge:     {"SIZE_INVALID", http.StatusRequestEntityTooLarge, "content too large"},
		errkind.ErrUnavailable:  {"UNAVAILABLE", http.StatusServiceUnavailable, "storage does not answer, try again"},
	}
	for _, k := range errkind.Kinds() {
		code, ok := want[k]
		if !ok {
			t.Errorf("no code expected for kind %q: add it here and to kindCodes", k)
			continue
		}
		err := fmt.Errorf("x: %w", k)
		if e := KindError(err); e == nil || e.Code != code || !errors.Is(e, err) || e.Detail != "" {
			t.Errorf("KindError(%q) = %+v, want code %v, the error as its cause and no detail", k, e, code)
		}
	}
	if e := KindError(errors.New("db down")); e != nil {
		t.Errorf("KindError of an error of no kind = %+v, want nil", e)
	}
	kindtest.Check(t, func(w http.ResponseWriter, r *http.Request, err error) { WriteError(w, r, KindError(err)) })
}
