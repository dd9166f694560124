package sdk

import (
	"testing"
	"unsafe"
)

// A Value stays 80 bytes: a run holds ten for every record it changes, and
// a field order that pads it grows them all.
func TestValueSize(t *testing.T) {
	if n := unsafe.Sizeof(Value{}); n != 80 {
		t.Fatalf("sdk.Value is %d bytes, want 80", n)
	}
}
