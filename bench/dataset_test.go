package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// shape is the size of a seeded dataset: groups nested three deep (top-level groups, subgroups
// under each, leaf groups under each subgroup), projects in every leaf group, deploy tokens on
// every project, and group deploy tokens spread round-robin over all groups.
type shape struct {
	topGroups, subgroupsEach, leafGroupsEach, projectsPerLeaf, tokensPerProject, groupTokens int
}

// The datasets. standard: 1,110 groups, 10,000 projects, 90,000 project tokens and 10,000 group
// tokens (100,000 deploy tokens). large (issue 13's scale): 100,000 projects and 1,000,000 deploy
// tokens. small: 100 projects and 1,000 deploy tokens, the large one's baseline.
var (
	standard = shape{topGroups: 10, subgroupsEach: 10, leafGroupsEach: 10, projectsPerLeaf: 10, tokensPerProject: 9, groupTokens: 10_000}
	large    = shape{topGroups: 10, subgroupsEach: 10, leafGroupsEach: 10, projectsPerLeaf: 100, tokensPerProject: 9, groupTokens: 100_000}
	small    = shape{topGroups: 1, subgroupsEach: 1, leafGroupsEach: 10, projectsPerLeaf: 10, tokensPerProject: 9, groupTokens: 100}
)

func (sh shape) tokens() int {
	return sh.topGroups*sh.subgroupsEach*sh.leafGroupsEach*sh.projectsPerLeaf*sh.tokensPerProject + sh.groupTokens
}

// benchKey keys the token digests of every seeded store; the servers booted here use it too.
const benchKey = "gatehouse-bench-instance-key-0123456789"

// seed makes the dataset the same on every run.
const seed = 20250601

func newChaCha8(stream uint64) *rand.ChaCha8 {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	binary.LittleEndian.PutUint64(s[8:], stream)
	return rand.NewChaCha8(s)
}

func newRand(stream uint64) *rand.Rand { return rand.New(newChaCha8(stream)) }

type nsGroup struct {
	id       int64
	fullPath string
	ancestry []int64 // root first, the group itself last (as sqlstore stores it)
}

type nsProject struct {
	id       int64
	fullPath string
	ancestry []int64 // its group's ancestry
}

type deployToken struct {
	id        int64
	username  string
	secret    token.Secret
	projectID int64 // exactly one of projectID and groupID is set
	groupID   int64
}

// dataset is what seedStore wrote, kept in memory so benchmarks can build requests.
type dataset struct {
	groups   []nsGroup
	projects []nsProject
	tokens   []deployToken
}

// request is one authenticated Git read: a deploy token and a project it may read.
type request struct {
	username string
	secret   token.Secret
	project  string // full path
}

// seedStore writes the standard dataset into a migrated Gatehouse database; see seedShape.
func seedStore(tb testing.TB, db *sql.DB, postgres bool) *dataset {
	tb.Helper()
	return seedShape(tb, db, postgres, standard)
}

// seedShape writes a dataset of shape sh into a migrated Gatehouse database in one transaction
// (bulk INSERTs on SQLite, COPY on PostgreSQL), encoding rows exactly as internal/sqlstore does:
// ancestry as "/"-joined ids, scopes as ","-joined names, times as Unix microseconds, digests
// from token.Digester keyed with benchKey. IDs continue after any rows already present.
func seedShape(tb testing.TB, db *sql.DB, postgres bool, sh shape) *dataset {
	tb.Helper()
	start := time.Now()
	ds, err := seed1(context.Background(), db, postgres, sh)
	if err != nil {
		tb.Fatalf("seed: %v", err)
	}
	tb.Logf("seeded %d groups, %d projects and %d deploy tokens in %v", len(ds.groups), len(ds.projects),
		len(ds.tokens), time.Since(start).Round(time.Millisecond))
	return ds
}

func seed1(ctx context.Context, db *sql.DB, postgres bool, sh shape) (*dataset, error) {
	base := map[string]int64{}
	for _, table := range []string{"namespace_groups", "projects", "deploy_tokens"} {
		var n sql.NullInt64
		if err := db.QueryRowContext(ctx, `SELECT MAX(id) FROM `+table).Scan(&n); err != nil {
			return nil, err
		}
		base[table] = n.Int64
	}
	created := time.Now().UnixMicro()
	ds := &dataset{}

	// Groups, parents before children.
	var groupRows [][]any
	gid := base["namespace_groups"]
	addGroup := func(path string, parent *nsGroup) nsGroup {
		gid++
		g := nsGroup{id: gid, fullPath: path, ancestry: []int64{gid}}
		parentID := sql.NullInt64{}
		if parent != nil {
			g.fullPath = parent.fullPath + "/" + path
			g.ancestry = append(slices.Clone(parent.ancestry), gid)
			parentID = sql.NullInt64{Int64: parent.id, Valid: true}
		}
		groupRows = append(groupRows, []any{g.id, path, path, parentID, g.fullPath, encodeIDs(g.ancestry), created})
		ds.groups = append(ds.groups, g)
		return g
	}
	var leaves []nsGroup
	for i := range sh.topGroups {
		top := addGroup(fmt.Sprintf("team-%02d", i), nil)
		for j := range sh.subgroupsEach {
			sub := addGroup(fmt.Sprintf("service-%02d", j), &top)
			for k := range sh.leafGroupsEach {
				leaves = append(leaves, addGroup(fmt.Sprintf("env-%02d", k), &sub))
			}
		}
	}

	var projectRows [][]any
	pid := base["projects"]
	for _, leaf := range leaves {
		for i := range sh.projectsPerLeaf {
			pid++
			path := fmt.Sprintf("repo-%02d", i)
			p := nsProject{id: pid, fullPath: leaf.fullPath + "/" + path, ancestry: leaf.ancestry}
			projectRows = append(projectRows, []any{p.id, path, path, leaf.id, p.fullPath, "private", created})
			ds.projects = append(ds.projects, p)
		}
	}

	// Tokens: 9 per project, then group tokens round-robin over every group. One in ten expires
	// in a year (exercising the expiry check); one in three also has read_registry.
	digester := token.NewDigester([]byte(benchKey))
	rng := newChaCha8(1)
	expires := token.ExpiryDate(time.Now().AddDate(1, 0, 0)).UnixMicro()
	raw := make([]byte, 24)
	var tokenRows [][]any
	tid := base["deploy_tokens"]
	projectTokens := len(ds.projects) * sh.tokensPerProject
	for i := range sh.tokens() {
		tid++
		t := deployToken{id: tid, username: token.DefaultUsername(tid)}
		if i < projectTokens {
			t.projectID = ds.projects[i/sh.tokensPerProject].id
		} else {
			t.groupID = ds.groups[(i-projectTokens)%len(ds.groups)].id
		}
		_, _ = rng.Read(raw)
		t.secret = token.NewSecret(token.DeployTokenPrefix + base64.RawURLEncoding.EncodeToString(raw))
		scopes := string(token.ReadRepository)
		if i%3 == 0 {
			scopes += "," + string(token.ReadRegistry)
		}
		exp := sql.NullInt64{}
		if i%10 == 0 {
			exp = sql.NullInt64{Int64: expires, Valid: true}
		}
		tokenRows = append(tokenRows, []any{t.id, "bench-" + strconv.Itoa(i), t.username, scopes, exp, false, created,
			int64(1), nullID(t.projectID), nullID(t.groupID), digester.Digest(t.secret)})
		ds.tokens = append(ds.tokens, t)
	}

	// Every group and project path is claimed in routes, as the server's own creates do.
	var routeRows [][]any
	for _, r := range groupRows {
		routeRows = append(routeRows, []any{r[4], "group", r[0]})
	}
	for _, r := range projectRows {
		routeRows = append(routeRows, []any{r[4], "project", r[0]})
	}

	inserts := []tableRows{
		{"namespace_groups", []string{"id", "name", "path", "parent_id", "full_path", "ancestry", "created_at"}, groupRows},
		{"projects", []string{"id", "name", "path", "group_id", "full_path", "visibility", "created_at"}, projectRows},
		{"routes", []string{"path", "source_type", "source_id"}, routeRows},
		{"deploy_tokens", []string{"id", "name", "username", "scopes", "expires_at", "revoked", "created_at",
			"creator_id", "project_id", "group_id", "digest"}, tokenRows},
	}
	if postgres {
		if err := copyRows(ctx, db, inserts); err != nil {
			return nil, err
		}
	} else if err := insertAll(ctx, db, inserts); err != nil {
		return nil, err
	}
	if postgres {
		// Explicit ids do not advance identity sequences; later inserts by the server must not
		// collide. VACUUM ANALYZE stands in for autovacuum, which would run in production: it
		// sets the rows' hint bits, which the measured reads would otherwise write (a freshly
		// copied million rows made every first read of a page a write).
		for _, table := range []string{"namespace_groups", "projects", "deploy_tokens"} {
			if _, err := db.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+table+`', 'id'), (SELECT MAX(id) FROM `+table+`))`); err != nil {
				return nil, fmt.Errorf("advance %s id sequence: %w", table, err)
			}
		}
		for _, table := range []string{"namespace_groups", "projects", "routes", "deploy_tokens"} {
			if _, err := db.ExecContext(ctx, `VACUUM ANALYZE `+table); err != nil {
				return nil, fmt.Errorf("vacuum %s: %w", table, err)
			}
		}
	}
	return ds, nil
}

// tableRows are rows for one table, in the order of cols.
type tableRows struct {
	table string
	cols  []string
	rows  [][]any
}

// insertAll inserts every table's rows in one transaction.
func insertAll(ctx context.Context, db *sql.DB, tables []tableRows) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, in := range tables {
		if err := insertRows(ctx, tx, in.table, in.cols, in.rows); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// copyRows loads every table's rows with PostgreSQL's COPY in one transaction, through the pgx
// connection under database/sql: a million deploy tokens load in seconds, where multi-row
// INSERTs take many minutes.
func copyRows(ctx context.Context, db *sql.DB, tables []tableRows) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		// sqlstore wraps pgx's connection (ErrUnavailable on a lost database); COPY needs pgx's.
		if w, ok := driverConn.(interface{ Unwrap() driver.Conn }); ok {
			driverConn = w.Unwrap()
		}
		sc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copy: %T is not a pgx connection", driverConn)
		}
		pc := sc.Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(ctx) }()
		for _, in := range tables {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{in.table}, in.cols, pgx.CopyFromRows(in.rows)); err != nil {
				return fmt.Errorf("copy into %s: %w", in.table, err)
			}
		}
		return tx.Commit(ctx)
	})
}

// insertRows inserts rows in multi-row INSERTs of up to 500 rows (under SQLite's bind-parameter
// limit).
func insertRows(ctx context.Context, tx *sql.Tx, table string, cols []string, rows [][]any) error {
	const batch = 500
	head := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	for len(rows) > 0 {
		n := min(batch, len(rows))
		var q strings.Builder
		q.WriteString(head)
		args := make([]any, 0, n*len(cols))
		for i, row := range rows[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteByte('(')
			for j, v := range row {
				if j > 0 {
					q.WriteString(", ")
				}
				args = append(args, v)
				q.WriteByte('?')
			}
			q.WriteByte(')')
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		rows = rows[n:]
	}
	return nil
}

func encodeIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, "/")
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// sample returns n projects picked at random (the same ones on every run).
func (ds *dataset) sample(n int) []nsProject {
	out := make([]nsProject, 0, n)
	for _, i := range newRand(2).Perm(len(ds.projects))[:n] {
		out = append(out, ds.projects[i])
	}
	return out
}

// requests returns, in random order, one allowed read per token that reaches a project of sel:
// a project token reads its own project, a group token one of the projects of sel below its
// group.
func (ds *dataset) requests(sel []nsProject) []request {
	index := make(map[int64]int, len(sel))
	under := map[int64][]int{}
	for i, p := range sel {
		index[p.id] = i
		for _, g := range p.ancestry {
			under[g] = append(under[g], i)
		}
	}
	var out []request
	for _, t := range ds.tokens {
		i, ok := index[t.projectID]
		if t.groupID != 0 {
			list := under[t.groupID]
			if ok = len(list) > 0; ok {
				i = list[int(t.id)%len(list)]
			}
		}
		if ok {
			out = append(out, request{username: t.username, secret: t.secret, project: sel[i].fullPath})
		}
	}
	newRand(3).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
