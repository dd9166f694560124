// Package mapping turns a value read from one app into the value written to the other:
// field maps, value maps, transforms, type conversions, normalization, default mappings and validation.
package mapping
