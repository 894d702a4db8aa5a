package web

import (
	"bytes"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// page is what every template receives: the layout reads the first fields, the page its Data.
type page struct {
	Title       string
	User        *namespace.User
	CSRF        string
	Breadcrumbs []crumb
	// Notice is a one-line confirmation shown above the content (role=status).
	Notice string
	Data   any
}

// crumb is one breadcrumb link; the last one is the current page.
type crumb struct {
	Label string
	Href  string
}

type pageTemplate struct{ t *template.Template }

var funcs = template.FuncMap{
	"date": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	},
	"datetime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	// datetimeSec is datetime to the second, for audit events.
	"datetimeSec": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	// dateOf is the UTC date of a day.
	"dateOf": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"iso":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"last":   func(i int, list []crumb) bool { return i == len(list)-1 },
	// summary is the "error_summary" partial's data: a heading and the messages, each argument a
	// message or a list of them (empty ones left out; no message, no summary).
	"summary": func(heading string, msgs ...any) errorSummary {
		s := errorSummary{Heading: heading}
		for _, m := range msgs {
			switch m := m.(type) {
			case string:
				if m != "" {
					s.List = append(s.List, m)
				}
			case []string:
				s.List = append(s.List, m...)
			}
		}
		return s
	},
	// storageChart draws a StorageUsage (the "storage_chart" partial of templates/charts.html).
	"storageChart": storageChartSVG,
}

// pageNames are the page templates; each is parsed together with the layout.
var pageNames = []string{"sign_in", "home", "group", "project", "deploy_tokens", "revoke", "rotate", "usage", "audit_events", "error",
	"group_new", "project_new", "group_edit", "project_edit",
	"personal_access_tokens", "personal_access_token_confirm", "password",
	"members", "admin", "admin_users", "admin_user_new", "admin_user", "admin_settings", "admin_system_info"}

func mustParsePages() map[string]*pageTemplate {
	out := map[string]*pageTemplate{}
	for _, name := range pageNames {
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/charts.html", "templates/partials.html", "templates/"+name+".html"))
		out[name] = &pageTemplate{t: t}
	}
	return out
}

// render writes page name with status. It renders into a buffer first, so a template failure is
// a clean 500 rather than half a page. Pages are never cached: some show a secret once.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	var buf bytes.Buffer
	if err := h.pages[name].t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		h.internal(w, r, err)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

type errorData struct {
	Status  int
	Heading string
	Message string
}

// renderError renders the error page for status; sess may be nil.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, sess *session, status int) {
	d := errorData{Status: status, Heading: http.StatusText(status)}
	switch status {
	case http.StatusNotFound:
		d.Heading = "Page not found"
		d.Message = "The page you were looking for does not exist, or you do not have access to it."
	case http.StatusForbidden:
		d.Message = "The form was not sent by this page, or it has expired. Go back, reload the page and try again."
		if sess != nil && r.Method != http.MethodPost {
			d.Message = "You do not have permission to do this."
		}
	case http.StatusMethodNotAllowed:
		d.Message = "This page does not accept that kind of request."
	case http.StatusInternalServerError:
		d.Message = "Something went wrong on our side. The error was logged."
	}
	p := &page{Title: d.Heading, Data: d}
	if sess != nil && status != http.StatusInternalServerError {
		p.User, p.CSRF = sess.user, sess.csrfToken()
	}
	var buf bytes.Buffer
	if err := h.pages["error"].t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		http.Error(w, d.Heading, status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// serveAsset serves the embedded CSS and script.
func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.renderError(w, r, nil, http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/assets/")
	if name == "" || strings.Contains(name, "/") {
		h.renderError(w, r, nil, http.StatusNotFound)
		return
	}
	b, err := fs.ReadFile(files, "assets/"+name)
	if err != nil {
		h.renderError(w, r, nil, http.StatusNotFound)
		return
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// errorSummary is what the "error_summary" partial (templates/partials.html) shows above a form
// that was refused: its heading and the messages.
type errorSummary struct {
	Heading string
	List    []string
}
