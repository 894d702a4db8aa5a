// Package bench holds Gatehouse's performance benchmarks. They run only with -bench, so they
// add nothing to `go test ./...` beyond compiling:
//
//	go test -run='^$' -bench=. ./bench/
//
// BenchmarkAuthorize measures the per-request decision path (deploy-token lookup by digest,
// project lookup by path, access.Authorize) against SQLite and PostgreSQL seeded with 100k deploy
// tokens and 10k projects in nested groups; BenchmarkInfoRefs measures authenticated Git
// info/refs requests over real HTTP against a server booted by testenv.StartServer on the same
// data. bench/run runs both and compares `git clone` through Gatehouse with a local file://
// clone of the same bare repository.
package bench
