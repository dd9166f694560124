// Command datasync-connector-postgres is the PostgreSQL connector: the tables
// and views of one schema as object types, read incrementally by an updated-at column.
package main
