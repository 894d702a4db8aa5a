package notify

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/namespace"
)

// Notice is what an expiry mail says. It never holds the token's secret: the job never has it.
type Notice struct {
	TokenID   int64
	TokenName string
	Username  string
	// Path is the full path of the token's project or group; Group tells which.
	Path  string
	Group bool
	// ExpiresAt is the expiry instant (00:00 UTC of the expiry date).
	ExpiresAt    time.Time
	DaysLeft     int
	IntervalDays int
	// SettingsURL is the page where maintainers manage the deploy tokens.
	SettingsURL string
}

// NoticeHeader is the header field that marks an expiry mail: "deploy-token-expiry;
// token=<id>; interval=<days>".
const NoticeHeader = "X-Gatehouse-Notice"

// Kind is "project" or "group".
func (n Notice) Kind() string {
	if n.Group {
		return "group"
	}
	return "project"
}

// ExpiryDate is the expiry date, YYYY-MM-DD.
func (n Notice) ExpiryDate() string { return n.ExpiresAt.UTC().Format(time.DateOnly) }

// In says "in 1 day" or "in N days".
func (n Notice) In() string {
	if n.DaysLeft == 1 {
		return "in 1 day"
	}
	return "in " + strconv.Itoa(n.DaysLeft) + " days"
}

type mailData struct {
	Notice
	Name string
}

var textBody = texttemplate.Must(texttemplate.New("text").Parse(`Hello {{.Name}},

The deploy token "{{.TokenName}}" (username {{.Username}}) of the {{.Kind}} {{.Path}} expires on {{.ExpiryDate}} ({{.In}}). This is its {{.IntervalDays}}-day expiry notice.

From 00:00 UTC on that date, Git, the container registry and the package registries refuse it. To keep whatever uses it working, create a new deploy token (or rotate this one) and update those places:

{{.SettingsURL}}

You receive this mail because you are an owner or maintainer of {{.Path}}.
`))

var htmlBody = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Deploy token expires {{.In}}</title></head>
<body>
<p>Hello {{.Name}},</p>
<p>The deploy token <strong>{{.TokenName}}</strong> (username <code>{{.Username}}</code>) of the {{.Kind}}
<strong>{{.Path}}</strong> expires on <strong>{{.ExpiryDate}}</strong> ({{.In}}). This is its {{.IntervalDays}}-day expiry notice.</p>
<p>From 00:00 UTC on that date, Git, the container registry and the package registries refuse it. To keep whatever uses it
working, create a new deploy token (or rotate this one) and update those places:</p>
<p><a href="{{.SettingsURL}}">Manage the deploy tokens of {{.Path}}</a></p>
<p style="color:#666">You receive this mail because you are an owner or maintainer of {{.Path}}.</p>
</body>
</html>
`))

// RenderMessage renders n as the mail to user u: a plain-text body and its HTML alternative.
func RenderMessage(n Notice, u *namespace.User) Message {
	name := strings.TrimSpace(u.Name)
	if name == "" {
		name = u.Username
	}
	data := mailData{Notice: n, Name: name}
	var text, html bytes.Buffer
	// The templates are fixed and their data plain strings and numbers: they cannot fail.
	_ = textBody.Execute(&text, data)
	_ = htmlBody.Execute(&html, data)
	return Message{
		To:      Address{Name: name, Email: u.Email},
		Subject: fmt.Sprintf("Deploy token %q of %s expires %s", n.TokenName, n.Path, n.In()),
		Text:    text.String(),
		HTML:    html.String(),
		Headers: map[string]string{NoticeHeader: fmt.Sprintf("%s; token=%d; interval=%d", JobName, n.TokenID, n.IntervalDays)},
	}
}
