// Package promlab runs a real Prometheus server (Debian's prometheus
// package) inside a lab namespace for tests: it writes a configuration that
// scrapes the given targets every second, starts the server with its TSDB
// in a directory the caller owns, waits until it is ready and queries it
// through its HTTP API (/api/v1/query), with connections opened inside the
// namespace. It also runs promtool over the Prometheus files rawnet ships
// (docs/prometheus, docs/grafana), whose tests live here.
//
// It lives in internal/ rather than beside one command's tests because the
// exporter's lab tests (cmd/rawnet) and this package's own tests of the
// rules and dashboard share it, and users never import it.
package promlab
