package sqlstore_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The migrations follow the expand/contract rule of docs/operations.md ("Upgrades"): release N's
// migrations keep release N-1 working, since N-1 nodes serve on them during a rolling upgrade.

// ruleSince is the first migration the rule is checked for; the ones before it were written
// when a single node served the database.
const ruleSince = 20

// contractMarker, in a migration's comments, says why its contracting statements are safe
// (for example: "-- contract: release N-1 no longer reads deploy_tokens.old_column").
const contractMarker = "-- contract:"

// contracting matches statements that can break the previous release while it still runs: a
// removal, a rename, a type change, a new NOT NULL without a default, a new constraint.
var contracting = []*regexp.Regexp{
	regexp.MustCompile(`(?is)\bDROP\s+(TABLE|COLUMN|INDEX|CONSTRAINT|VIEW|TRIGGER)\b`),
	regexp.MustCompile(`(?is)\bRENAME\b`),
	regexp.MustCompile(`(?is)\bALTER\s+COLUMN\b.*\b(TYPE|SET\s+NOT\s+NULL|DROP\s+DEFAULT)\b`),
	regexp.MustCompile(`(?is)\bADD\s+CONSTRAINT\b`),
	regexp.MustCompile(`(?is)\bCREATE\s+UNIQUE\s+INDEX\b`),
}

// addNotNull is ADD COLUMN … NOT NULL; without a DEFAULT, the previous release's INSERTs fail.
var addNotNull = regexp.MustCompile(`(?is)\bADD\s+COLUMN\b.*\bNOT\s+NULL\b`)

var defaultClause = regexp.MustCompile(`(?is)\bDEFAULT\b`)

// createdTable finds the tables a migration creates: constraints on them break nothing.
var createdTable = regexp.MustCompile(`(?is)\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)`)

var onTable = regexp.MustCompile(`(?is)\bON\s+(\w+)|\bALTER\s+TABLE\s+(\w+)`)

// contractViolations returns the statements of one migration that contract without the marker.
func contractViolations(sql string) []string {
	if strings.Contains(sql, contractMarker) {
		return nil
	}
	created := map[string]bool{}
	for _, m := range createdTable.FindAllStringSubmatch(sql, -1) {
		created[strings.ToLower(m[1])] = true
	}
	var out []string
	for _, stmt := range strings.Split(stripComments(sql), ";") {
		stmt = strings.TrimSpace(stmt)
		if stmt == "" {
			continue
		}
		if m := onTable.FindStringSubmatch(stmt); m != nil && created[strings.ToLower(m[1]+m[2])] {
			continue // a table this migration creates: no release uses it yet
		}
		bad := addNotNull.MatchString(stmt) && !defaultClause.MatchString(stmt)
		for _, re := range contracting {
			bad = bad || re.MatchString(stmt)
		}
		if bad {
			out = append(out, stmt)
		}
	}
	return out
}

func stripComments(sql string) string {
	var b strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func TestContractViolations(t *testing.T) {
	for _, c := range []struct {
		name, sql string
		bad       bool
	}{
		{"ok/new table", "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT NOT NULL);\nCREATE UNIQUE INDEX t_name ON t (name);", false},
		{"ok/nullable column", "ALTER TABLE users ADD COLUMN nickname TEXT;", false},
		{"ok/not null with default", "ALTER TABLE users ADD COLUMN locked BOOLEAN NOT NULL DEFAULT false;", false},
		{"ok/plain index", "CREATE INDEX users_email ON users (email);", false},
		{"ok/marked", "-- contract: release N-1 stopped reading users.nickname\nALTER TABLE users DROP COLUMN nickname;", false},
		{"fail/drop column", "ALTER TABLE users DROP COLUMN nickname;", true},
		{"fail/drop table", "DROP TABLE old_things;", true},
		{"fail/rename", "ALTER TABLE users RENAME COLUMN name TO full_name;", true},
		{"fail/type", "ALTER TABLE users ALTER COLUMN id TYPE BIGINT;", true},
		{"fail/set not null", "ALTER TABLE users ALTER COLUMN email SET NOT NULL;", true},
		{"fail/not null without default", "ALTER TABLE users ADD COLUMN locked BOOLEAN NOT NULL;", true},
		{"fail/unique index on an existing table", "CREATE UNIQUE INDEX users_email ON users (email);", true},
		{"fail/constraint", "ALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email <> '');", true},
		{"fail/marker only in a comment of another kind", "-- contract\nDROP INDEX users_email;", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := contractViolations(c.sql); (len(got) > 0) != c.bad {
				t.Errorf("violations %q, want bad=%v", got, c.bad)
			}
		})
	}
}

// TestMigrationsExpandContract: both dialects carry the same migrations, numbered once, and
// every migration since ruleSince either only expands the schema or says, with the marker, why
// its contracting statements cannot break the previous release.
func TestMigrationsExpandContract(t *testing.T) {
	names := map[string][]string{}
	for _, dialect := range []string{"postgres", "sqlite"} {
		entries, err := os.ReadDir(filepath.Join("migrations", dialect))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]string{}
		for _, e := range entries {
			name := e.Name()
			num, _, ok := strings.Cut(name, "_")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || len(num) != 4 || !strings.HasSuffix(name, ".sql") {
				t.Errorf("%s/%s: not NNNN_name.sql", dialect, name)
				continue
			}
			if other, dup := seen[n]; dup {
				t.Errorf("%s: %s and %s share number %d", dialect, other, name, n)
			}
			seen[n] = name
			names[dialect] = append(names[dialect], name)
			if n < ruleSince {
				continue
			}
			b, err := os.ReadFile(filepath.Join("migrations", dialect, name))
			if err != nil {
				t.Fatal(err)
			}
			for _, stmt := range contractViolations(string(b)) {
				t.Errorf("%s/%s contracts the schema without %q saying why the previous release survives it: %s",
					dialect, name, contractMarker, stmt)
			}
		}
	}
	if !slices.Equal(names["postgres"], names["sqlite"]) {
		t.Errorf("the dialects carry different migrations:\npostgres %q\nsqlite   %q", names["postgres"], names["sqlite"])
	}
}
