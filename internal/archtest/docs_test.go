package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The design lives in the repository: comments cite docs/design.md and docs/architecture.md by
// section, and never the documents outside it that they once cited.

// docs are the documents code may cite, relative to the module root.
var docs = []string{"docs/design.md", "docs/architecture.md"}

// heading is a numbered section heading: "## 2. Deploy tokens", "### 2.6 Expiry".
var heading = regexp.MustCompile(`(?m)^#{2,6} ([0-9]+(?:\.[0-9]+)*)\.? `)

// citation is "docs/design.md §2.6", or several sections after one document:
// "docs/design.md §1.3, §2.5".
var citation = regexp.MustCompile(`docs/(design|architecture)\.md((?:[,;]?\s+(?:and\s+)?§[0-9]+(?:\.[0-9]+)*)+)`)

// crossRef is a reference inside a document: "architecture.md §4.5", or a bare "§7.2" (the same
// document).
var crossRef = regexp.MustCompile(`(?:\b(design|architecture)\.md\s+)?§([0-9]+(?:\.[0-9]+)*)`)

var sectionNumber = regexp.MustCompile(`§([0-9]+(?:\.[0-9]+)*)`)

// outsideDocs names the documents outside the repository that comments used to cite. The
// pattern is spelled so that this file does not match it.
var outsideDocs = regexp.MustCompile(`\b(S[P]EC|S[T]YLE)\b`)

// sections reads the numbered headings of each document.
func sections(t *testing.T, root string) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	for _, d := range docs {
		b, err := os.ReadFile(filepath.Join(root, d))
		if err != nil {
			t.Fatalf("read %s: %v", d, err)
		}
		out[d] = map[string]bool{}
		for _, m := range heading.FindAllStringSubmatch(string(b), -1) {
			out[d][m[1]] = true
		}
	}
	return out
}

// codeText is the text a reader of the code sees beside it: the comments and string literals of
// a Go file, each with its line.
type codeText struct {
	pos  string
	text string
}

// goTexts returns the comments and string literals of every Go file under root.
func goTexts(t *testing.T, root string) []codeText {
	t.Helper()
	var out []codeText
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, g := range f.Comments {
			out = append(out, codeText{fset.Position(g.Pos()).String(), g.Text()})
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				out = append(out, codeText{fset.Position(lit.Pos()).String(), lit.Value})
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatalf("walk the module: %v", err)
	}
	return out
}

// otherTexts returns the files beside the Go code that carry comments of the same kind: SQL
// migrations and the CI scripts.
func otherTexts(t *testing.T, root string) []codeText {
	t.Helper()
	var out []codeText
	for _, pattern := range []string{"internal/sqlstore/migrations/*/*.sql", ".ci/*"} {
		paths, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			if st, err := os.Stat(p); err != nil || st.IsDir() {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, codeText{p, string(b)})
		}
	}
	return out
}

// checkCitations returns a problem for each cited section that has no heading, and each
// mention of the documents outside the repository; and the number of sections cited.
func checkCitations(texts []codeText, secs map[string]map[string]bool) (problems []string, cited int) {
	for _, c := range texts {
		for _, m := range citation.FindAllStringSubmatch(c.text, -1) {
			doc := "docs/" + m[1] + ".md"
			for _, n := range sectionNumber.FindAllStringSubmatch(m[2], -1) {
				cited++
				if !secs[doc][n[1]] {
					problems = append(problems, c.pos+": cites "+doc+" §"+n[1]+", which has no such section")
				}
			}
		}
		if m := outsideDocs.FindString(c.text); m != "" {
			problems = append(problems, c.pos+": cites "+m+", a document outside the repository (cite docs/design.md or docs/architecture.md)")
		}
	}
	return problems, cited
}

// TestDocCitations checks that every section Go code, migrations and CI scripts cite in
// docs/design.md and docs/architecture.md exists, and that nothing cites the documents outside
// the repository any more.
func TestDocCitations(t *testing.T) {
	root := moduleRoot(t)
	secs := sections(t, root)
	texts := append(goTexts(t, root), otherTexts(t, root)...)
	problems, cited := checkCitations(texts, secs)
	for _, p := range problems {
		t.Error(p)
	}
	// The code cites the documents in about sixty places: far fewer means the pattern has
	// stopped matching them, and the test would pass by checking nothing.
	if cited < 50 {
		t.Errorf("found %d cited sections; expected at least 50 (is the citation pattern still right?)", cited)
	}

	t.Run("fail/missing section and outside document", func(t *testing.T) {
		synthetic := []codeText{
			// Split, so that this file's own literals cite nothing.
			{"a.go:1", "Expiry (docs/" + "design.md §2.6, §99.1)."},
			{"b.go:1", "See docs/" + "architecture.md\n§98."},
			{"c.go:1", "As " + "SP" + "EC §2 says."},
			{"d.go:1", "GIT_LITERAL_PATHSPECS=1 is not a citation."},
		}
		got, n := checkCitations(synthetic, secs)
		if n != 3 || len(got) != 3 || !strings.Contains(got[0], "§99.1") || !strings.Contains(got[1], "§98") ||
			!strings.HasPrefix(got[2], "c.go:1") {
			t.Fatalf("checkCitations on synthetic citations = %d cited, %q", n, got)
		}
	})
}

// TestDocCrossReferences checks the references the documents make to their own and each other's
// sections.
func TestDocCrossReferences(t *testing.T) {
	root := moduleRoot(t)
	secs := sections(t, root)
	for _, d := range docs {
		b, err := os.ReadFile(filepath.Join(root, d))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, ix := range crossRef.FindAllStringSubmatchIndex(text, -1) {
			target, section := d, text[ix[4]:ix[5]]
			if ix[2] >= 0 {
				target = "docs/" + text[ix[2]:ix[3]] + ".md"
			}
			if !slices.Contains(docs, target) || !secs[target][section] {
				line := strings.Count(text[:ix[0]], "\n") + 1
				t.Errorf("%s:%d: refers to %s §%s, which has no such section", d, line, target, section)
			}
		}
	}
}
