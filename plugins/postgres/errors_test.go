package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/datasync-io/datasync/sdk"
)

func TestMapWriteError(t *testing.T) {
	tbl := &table{constraint: map[string]string{"people_email_key": "email", "age_positive": "age"}}
	tests := []struct {
		name  string
		err   error
		cat   sdk.Category
		field string
	}{
		{"not null", &pgconn.PgError{Code: "23502", ColumnName: "email"}, sdk.CategoryValidation, "email"},
		{"unique by constraint", &pgconn.PgError{Code: "23505", ConstraintName: "people_email_key"}, sdk.CategoryDuplicate, "email"},
		{"unique by detail", &pgconn.PgError{Code: "23505", ConstraintName: "some_index", Detail: "Key (code)=(x) already exists."}, sdk.CategoryDuplicate, "code"},
		{"check", &pgconn.PgError{Code: "23514", ConstraintName: "age_positive"}, sdk.CategoryValidation, "age"},
		{"foreign key", &pgconn.PgError{Code: "23503"}, sdk.CategoryValidation, ""},
		{"bad value", &pgconn.PgError{Code: "22P02"}, sdk.CategoryValidation, ""},
		{"too long", &pgconn.PgError{Code: "22001"}, sdk.CategoryValidation, ""},
		{"serialization", &pgconn.PgError{Code: "40001", ColumnName: "x"}, sdk.CategoryTransient, ""},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, sdk.CategoryTransient, ""},
		{"lock timeout", &pgconn.PgError{Code: "55P03"}, sdk.CategoryTransient, ""},
		{"privilege", &pgconn.PgError{Code: "42501"}, sdk.CategoryForbidden, ""},
		{"connection", &pgconn.PgError{Code: "08006"}, sdk.CategoryUnreachable, ""},
		{"raised by a trigger", &pgconn.PgError{Code: "P0001"}, sdk.CategoryPermanent, ""},
		{"wrapped", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23502", ColumnName: "name"}), sdk.CategoryValidation, "name"},
		{"cancelled", context.Canceled, sdk.CategoryTransient, ""},
		{"network", errors.New("unexpected EOF"), sdk.CategoryTransient, ""},
	}
	for _, tc := range tests {
		e := mapWriteError(tbl, tc.err)
		if e == nil || e.Category != tc.cat || e.Field != tc.field {
			t.Errorf("%s: %v, want %s on %q", tc.name, e, tc.cat, tc.field)
		}
	}
}
