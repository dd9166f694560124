package engine

import (
	"fmt"
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

// BenchmarkFirstRun syncs b.N records created on the left to an empty right.
func BenchmarkFirstRun(b *testing.B) {
	e := newEnv(b, nil)
	for i := 0; i < b.N; i++ {
		e.create(e.left, map[string]sdk.Value{"email": s(fmt.Sprintf("u%d@x.io", i)), "first_name": s("F"), "company": s("C")})
	}
	b.ResetTimer()
	rep := e.run(Options{})
	if rep.Right.Created != b.N {
		b.Fatalf("created %d of %d", rep.Right.Created, b.N)
	}
	b.StopTimer()
	e.quiet()
}
