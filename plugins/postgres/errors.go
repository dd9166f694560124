package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/datasync-io/datasync/sdk"
)

// mapQueryError gives a failed read or catalog query its category; an
// *sdk.Error passes through.
func mapQueryError(err error) error {
	if err == nil {
		return nil
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &sdk.Error{Category: sdk.CategoryTransient, Message: err.Error()}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return &sdk.Error{Category: pgCategory(pe.Code), Message: err.Error()}
	}
	// Anything else is the connection failing underneath.
	return &sdk.Error{Category: sdk.CategoryTransient, Message: err.Error()}
}

// pgCategory maps an SQLSTATE onto a category, for errors not about a record.
func pgCategory(code string) sdk.Category {
	switch {
	case code == "42501":
		return sdk.CategoryForbidden
	case code == "28P01", code == "28000":
		return sdk.CategoryAuth
	case code == "40001", code == "40P01", code == "55P03", code == "57014", code == "53300", code == "57P01", code == "57P03":
		return sdk.CategoryTransient
	case strings.HasPrefix(code, "08"):
		return sdk.CategoryUnreachable
	case code == "23505":
		return sdk.CategoryDuplicate
	case strings.HasPrefix(code, "23"), strings.HasPrefix(code, "22"):
		return sdk.CategoryValidation
	}
	return sdk.CategoryPermanent
}

var keyDetail = regexp.MustCompile(`^Key \(([^)]*)\)=`)

// mapWriteError turns the error of one op's statement into its result error,
// naming the field from the error's column or constraint.
func mapWriteError(t *table, err error) *sdk.Error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return sdk.AsError(mapQueryError(err))
	}
	field := pe.ColumnName
	if field == "" {
		field = t.constraint[pe.ConstraintName]
	}
	if field == "" {
		if m := keyDetail.FindStringSubmatch(pe.Detail); m != nil {
			field = m[1]
		}
	}
	e := &sdk.Error{Category: pgCategory(pe.Code), Field: field, Message: pe.Message}
	switch pe.Code {
	case "23505":
		e.Message = fmt.Sprintf("%s already holds this value (%s)", orDefault(field, "a unique column"), pe.Detail)
	case "23502":
		e.Message = fmt.Sprintf("%s is required", field)
	case "23514", "23503":
		if pe.Detail != "" {
			e.Message += ": " + pe.Detail
		}
	}
	if e.Category == sdk.CategoryDuplicate || e.Category == sdk.CategoryValidation {
		return e
	}
	e.Field = ""
	return e
}
