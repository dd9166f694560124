package memory_test

import (
	"testing"

	"github.com/datasync-io/datasync/sdk/conformance"
	"github.com/datasync-io/datasync/sdk/memory"
	"github.com/datasync-io/datasync/sdk/memory/memorytest"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, memorytest.Harness(memory.New(), nil))
}

// The suite again with the data file and small read batches: every read
// spans many batches and every write goes through the file.
func TestConformancePersisted(t *testing.T) {
	conformance.Run(t, memorytest.Harness(memory.New(), map[string]string{
		"path": t.TempDir() + "/data.json", "batch_size": "7"}))
}
