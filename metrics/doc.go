// Package metrics is dird's observability endpoint: Prometheus counters
// and histograms on metrics.listen (/metrics), a liveness check (/healthz)
// and a readiness check (/readyz, ready once the server says the store is
// open and every listener is up).
//
// The fronts and policy do not import it: they report through small
// observer hooks in their own Options, and package server turns those
// reports into calls on a *Metrics. It imports none of dird's packages
// and is imported only by server and config (for its Config).
package metrics
