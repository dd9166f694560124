// Package api serves the daemon's HTTP API: bearer-token JSON endpoints for
// syncs and actions, Prometheus /metrics, /healthz, /readyz and the dashboard.
package api
