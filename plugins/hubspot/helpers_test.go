package main

import (
	"context"
	"testing"

	"github.com/datasync-io/datasync/plugins/hubspot/hubspottest"
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

// open starts a contract server with opts and opens the connector on it;
// settings override the test defaults (fast client-side limits).
func open(t *testing.T, opts hubspottest.Options, settings ...string) (*hubspottest.Server, sdk.Conn) {
	t.Helper()
	srv := hubspottest.New(opts)
	url := srv.Start(t)
	c, err := New().Open(context.Background(), config(url, srv.Token(), settings...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

func readAll(t *testing.T, c sdk.Conn, object, cursor string, fields ...string) *conformance.Collector {
	t.Helper()
	col, err := conformance.ReadAll(context.Background(), c, sdk.ReadRequest{Object: object, Cursor: cursor, Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	if col.Cursor == "" || col.AtCheckpoint != len(col.All) {
		t.Fatalf("read from %q: cursor %q, %d of %d records before the last checkpoint", cursor, col.Cursor, col.AtCheckpoint, len(col.All))
	}
	return col
}

// distinct counts records by id and fails on an id seen twice.
func distinct(t *testing.T, recs []sdk.Record) map[string]sdk.Record {
	t.Helper()
	m, err := conformance.ByID(recs)
	if err != nil {
		t.Fatalf("%d records: %v", len(recs), err)
	}
	return m
}

func write(t *testing.T, c sdk.Conn, object string, ops ...sdk.Op) []sdk.WriteResult {
	t.Helper()
	res, err := conformance.WriteOps(context.Background(), c, object, ops...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func createOp(email string, more ...any) sdk.Op {
	m := map[string]sdk.Value{"email": sdk.String(email)}
	for i := 0; i+1 < len(more); i += 2 {
		m[more[i].(string)] = more[i+1].(sdk.Value)
	}
	return conformance.CreateOp(m)
}
