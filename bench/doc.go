// Package bench holds Gatehouse's performance benchmarks. They run only with -bench, so they
// add nothing to `go test ./...` beyond compiling:
//
//	go test -run='^$' -bench=. ./bench/
//
// BenchmarkAuthorize measures the per-request decision path (deploy-token lookup by digest,
// project lookup by path, access.Authorize) against SQLite and PostgreSQL seeded with 100k deploy
// tokens and 10k projects in nested groups; BenchmarkInfoRefs measures authenticated Git
// info/refs requests over real HTTP against a server booted by testenv.StartServer on the same
// data; BenchmarkJWTAuth measures tokens issued per second by /jwt/auth with a deploy token;
// BenchmarkSQLiteStatement measures what a prepared statement would save on the deploy-token
// lookup; BenchmarkClusterPropagation measures how long a revocation and a cached setting changed
// through one node take to reach another (p50, p99); BenchmarkAuthorizeScale measures the
// decision path on PostgreSQL with 1,000,000 deploy tokens and 100,000 projects against 1,000
// tokens (loaded with COPY); BenchmarkClusterCPU measures CPU per request of HEAD manifest, a
// generic GET and /jwt/auth on one node and on three nodes sharing PostgreSQL; BenchmarkArchive
// measures a 100 MiB repository's archive downloaded with a deploy token against `git archive`
// run locally; BenchmarkPushProtection measures a 100 MiB push with secret push protection on
// and off. bench/run runs them and compares, each against a baseline measured in the same run:
// `git clone` through Gatehouse with a local file:// clone; blob GET and upload through the OCI
// registry with CNCF Distribution; authenticated manifest HEAD with Distribution's GET /v2/;
// authenticated generic-package GET with the same GET on a public project, with
// http.FileServer and with a bare net/http handler writing the same bytes from memory; and `npm install` of 200 dependencies from Gatehouse with an offline install
// from npm's cache. bench/benchserve runs the servers bench/run measures.
package bench
