// Package testsvc starts the real servers tests run against (PostgreSQL, Radicale, slapd,
// Glewlwyd) through scripts/services, or reuses the ones `make test` started once.
package testsvc
