// Command datasync-connector-sqlite is the SQLite connector: the tables of
// one database file as object types, read incrementally by an updated-at column.
package main
