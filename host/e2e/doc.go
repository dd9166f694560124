// Package e2e tests datasync end to end: the real datasync binary driving the real
// connector plugins against real PostgreSQL, Radicale (CardDAV) and OpenLDAP servers.
package e2e
