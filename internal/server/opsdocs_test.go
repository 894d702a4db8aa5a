package server_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/gc"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// The operator's documents against the server: docs/operations.md's metric table lists exactly
// the gatehouse_* metrics a real server exports, with their types and labels, and every metric
// and label docs/alerts.yml uses is one of them.

// exportedFamilies boots a server with its blobs on S3 (MinIO), makes every metric family
// appear (requests, decisions, a ban, each job, S3 requests; a vector shows only once it has a
// sample), has /-/ready answer 503 while S3 is cut off, and gathers its registry.
func exportedFamilies(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	endpoint, user, pass := testenv.StartMinio(t)
	s3 := testenv.StartTCPProxy(t, endpoint)
	ts := testenv.StartServer(t, func(c *config.Config) {
		c.BlobStore = config.BlobStoreS3
		c.S3 = config.S3{Endpoint: s3.Addr, Bucket: "opsdocs", AccessKey: user, SecretKey: config.Secret(pass)}
	})
	f := ts.MakeFixture(t)
	p := f.Projects["top"]
	tok := ts.CreateDeployToken(t, fmt.Sprintf("projects/%d", p.ID), []string{"read_package_registry"}, nil)
	file := fmt.Sprintf("%s/api/v4/projects/%d/packages/generic/tool/1.0.0/tool.bin", ts.URL, p.ID)
	put, _ := http.NewRequest(http.MethodPut, file, strings.NewReader("opsdocs"))
	put.Header.Set("Private-Token", ts.RootToken)
	if r := do(t, "upload", put); r.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	get, _ := http.NewRequest(http.MethodGet, file, nil)
	get.Header.Set("Deploy-Token", tok.Token)
	if r := do(t, "download", get); r.status != http.StatusOK {
		t.Fatalf("download: %d %s", r.status, r.body)
	}
	// A ban, from an address that is not exempt.
	for i := 0; i <= ts.Server.Config.AuthBan.MaxFailures; i++ {
		h := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(tok.Username+":gldt-wrong-"+fmt.Sprint(i)))}}
		inProcess(ts, http.MethodGet, "/"+p.FullPath+".git/info/refs?service=git-upload-pack", "198.51.100.7:4000", h, nil)
	}
	ts.Server.Usage.Flush()
	if _, err := ts.Server.GC.Run(t.Context(), gc.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	server.RunDaily(ts.Server, t.Context(), time.Now())
	// What a load balancer's health check sees while S3 does not answer.
	s3.Cut()
	ready, _ := http.NewRequest(http.MethodGet, ts.URL+"/-/ready", nil)
	if r := do(t, "ready", ready); r.status != http.StatusServiceUnavailable {
		t.Fatalf("/-/ready with S3 cut off: %d %s", r.status, r.body)
	}
	s3.Restore()
	fams, err := ts.Server.Metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// labelNames is every label name the family's samples carry.
func labelNames(f *dto.MetricFamily) []string {
	seen := map[string]bool{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			seen[l.GetName()] = true
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

var typeNames = map[dto.MetricType]string{dto.MetricType_COUNTER: "counter", dto.MetricType_GAUGE: "gauge",
	dto.MetricType_HISTOGRAM: "histogram", dto.MetricType_SUMMARY: "summary"}

// metricRow is a row of operations.md's table: | `name` | type | `label`, … | what |.
var metricRow = regexp.MustCompile("(?m)^\\| `(gatehouse_[a-z0-9_*]+)` \\|([^|]+)\\|([^|]*)\\|")

var backticked = regexp.MustCompile("`([^`]+)`")

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOperationsDocs(t *testing.T) {
	fams := exportedFamilies(t)
	t.Run("metric table", func(t *testing.T) { checkMetricTable(t, readDoc(t, "operations.md"), fams) })
	t.Run("alert rules", func(t *testing.T) { checkAlertRules(t, readDoc(t, "alerts.yml"), fams) })
	// GatehouseNodeUnready counts the health checks' 503s from /-/ready.
	t.Run("unready is an ops 5xx", func(t *testing.T) {
		for _, m := range fams["gatehouse_http_requests_total"].GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["surface"] == "ops" && labels["status_class"] == "5xx" && m.GetCounter().GetValue() >= 1 {
				return
			}
		}
		t.Error(`a 503 from /-/ready is not counted as gatehouse_http_requests_total{surface="ops",status_class="5xx"}`)
	})
}

// checkMetricTable: each gatehouse_* family is one row of the table (a row ending in * covers
// the families it prefixes), with its type and labels, and each row names an exported family.
func checkMetricTable(t *testing.T, doc string, fams map[string]*dto.MetricFamily) {
	_, section, ok := strings.Cut(doc, "### What is measured")
	if !ok {
		t.Fatal(`operations.md has no "### What is measured" section`)
	}
	section, _, _ = strings.Cut(section, "\n#")
	rows := metricRow.FindAllStringSubmatch(section, -1)
	if len(rows) == 0 {
		t.Fatal("no metric rows in the table")
	}
	covered := map[string]bool{}
	for _, row := range rows {
		name, typ, labels := row[1], strings.TrimSpace(row[2]), row[3]
		if prefix, ok := strings.CutSuffix(name, "*"); ok {
			n := 0
			for fam := range fams {
				if strings.HasPrefix(fam, prefix) {
					covered[fam] = true
					n++
				}
			}
			if n == 0 {
				t.Errorf("row %s covers no exported metric", name)
			}
			continue
		}
		f := fams[name]
		if f == nil {
			t.Errorf("row %s: the server exports no such metric", name)
			continue
		}
		covered[name] = true
		if want := typeNames[f.GetType()]; typ != want {
			t.Errorf("row %s: type %q, the server exports a %s", name, typ, want)
		}
		var doc []string
		for _, m := range backticked.FindAllStringSubmatch(labels, -1) {
			doc = append(doc, m[1])
		}
		sort.Strings(doc)
		if got := labelNames(f); !slices.Equal(doc, got) {
			t.Errorf("row %s: labels %q, the server exports %q", name, doc, got)
		}
	}
	for fam := range fams {
		if strings.HasPrefix(fam, "gatehouse_") && !covered[fam] {
			t.Errorf("the server exports %s, which operations.md's table does not list", fam)
		}
	}
}

// rules is the shape of a Prometheus rule file.
type rules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var (
	// selector is a metric name of Gatehouse, the Go runtime, the process or Prometheus's up,
	// with its label matchers if it has any.
	selector = regexp.MustCompile(`\b((?:gatehouse|go|process)_[a-z0-9_]+|up)\b(\{[^}]*\})?`)
	matcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
	grouping = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// targetLabels are the labels Prometheus adds to every scraped sample. A label the target
// exposes under one of these names is stored as exported_<name> (honor_labels: false, the
// default), so Gatehouse exports none (TestOperationsDocs).
var targetLabels = []string{"job", "instance"}

// checkAlertRules: the file parses as rule groups; each rule has a name, an expression, a
// severity and a summary; every metric it names is exported (a histogram through its _bucket,
// _count or _sum series), and every label it matches or groups by is one those metrics carry.
func checkAlertRules(t *testing.T, text string, fams map[string]*dto.MetricFamily) {
	var rf rules
	if err := yaml.Unmarshal([]byte(text), &rf); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			n++
			where := g.Name + "/" + r.Alert
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: needs alert, expr and a summary annotation", where)
			}
			if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
				t.Errorf("%s: severity %q", where, r.Labels["severity"])
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", where, r.For, err)
				}
			}
			checkExpr(t, where, r.Expr, fams)
		}
	}
	if n == 0 {
		t.Fatal("alerts.yml holds no rules")
	}
	// promtool, when installed, also checks the PromQL itself.
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, "check", "rules", filepath.Join("..", "..", "docs", "alerts.yml")).CombinedOutput(); err != nil {
			t.Errorf("promtool check rules: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool not installed: the PromQL syntax is not checked")
	}
}

func checkExpr(t *testing.T, where, expr string, fams map[string]*dto.MetricFamily) {
	t.Helper()
	available := map[string]bool{}
	for _, l := range targetLabels {
		available[l] = true
	}
	sels := selector.FindAllStringSubmatch(expr, -1)
	if len(sels) == 0 {
		t.Errorf("%s: names no metric", where)
	}
	for _, s := range sels {
		name := s[1]
		var labels []string
		switch f, base := family(fams, name); {
		case name == "up":
		case f == nil:
			t.Errorf("%s: %s is not a metric the server exports", where, name)
			continue
		default:
			labels = labelNames(f)
			if base != name && strings.HasSuffix(name, "_bucket") {
				labels = append(labels, "le")
			}
		}
		own := map[string]bool{}
		for _, l := range labels {
			own[l] = true
			available[l] = true
			if slices.Contains(targetLabels, l) {
				t.Errorf("%s: %s has a label %s, which Prometheus would rename exported_%s", where, name, l, l)
			}
		}
		for _, m := range matcher.FindAllStringSubmatch(s[2], -1) {
			if !own[m[1]] && !slices.Contains(targetLabels, m[1]) {
				t.Errorf("%s: %s has no label %s (it has %q)", where, name, m[1], labels)
			}
		}
	}
	for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !available[l] {
				t.Errorf("%s: groups by %s, which none of its metrics carries", where, l)
			}
		}
	}
}

// family finds the family of a series name: the name itself, or a histogram or summary whose
// _bucket, _count or _sum series it is; base is the family's name.
func family(fams map[string]*dto.MetricFamily, name string) (f *dto.MetricFamily, base string) {
	if f := fams[name]; f != nil {
		return f, name
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if b, ok := strings.CutSuffix(name, suffix); ok {
			if f := fams[b]; f != nil && (f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY) &&
				(suffix != "_bucket" || f.GetType() == dto.MetricType_HISTOGRAM) {
				return f, b
			}
		}
	}
	return nil, ""
}
