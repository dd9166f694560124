// Command bench measures datasync against a raw copy: it runs the real datasync binary and
// plugins over generated contacts (PostgreSQL → PostgreSQL, SQLite ↔ SQLite) beside a baseline.
package main
