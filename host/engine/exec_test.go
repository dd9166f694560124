package engine

import (
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

func TestSplitBatch(t *testing.T) {
	items := func(n int) []*item {
		out := make([]*item, n)
		for i := range out {
			out[i] = &item{ops: [2]*sdk.Op{{}, nil}}
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		ops, batch int
		want       int
	}{
		{"many batches keep the batch size", 10000, 2000, 2000},
		{"exactly four batches", 8000, 2000, 2000},
		{"one batch's worth is split in four", 2000, 2000, 500},
		{"splits round up", 1801, 2000, 451},
		{"never below minSplit", 600, 2000, minSplit},
		{"a few ops stay one batch", 40, 2000, minSplit},
		{"never above the batch size", 10, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := splitBatch(items(tc.ops), tc.batch); got != tc.want {
				t.Fatalf("splitBatch(%d ops, batch %d) = %d, want %d", tc.ops, tc.batch, got, tc.want)
			}
		})
	}
}
