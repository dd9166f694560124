package engine

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/host/store"
)

func TestNewRunView(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rep := Report{Left: Counts{Read: 3, Created: 1}, Right: Counts{Updated: 2}, Errors: []ErrorGroup{{Count: 4}}}
	for _, c := range []struct {
		name     string
		run      store.Run
		want     RunView
		wantJSON string
	}{
		{"finished", store.Run{ID: "r1", Status: store.RunOK, Started: at, Finished: at.Add(time.Minute), Counts: rep.countsJSON()},
			RunView{ID: "r1", Status: store.RunOK, Left: Counts{Read: 3, Created: 1}, Right: Counts{Updated: 2}, Errors: 4},
			`"finished":"2026-03-01T12:01:00Z"`},
		{"running: finished is null", store.Run{ID: "r2", Status: store.RunRunning, Started: at},
			RunView{ID: "r2", Status: store.RunRunning}, `"finished":null`},
		{"unreadable counts are zero", store.Run{ID: "r3", Status: store.RunFailed, Started: at, Counts: json.RawMessage(`{"left":`), Error: "boom"},
			RunView{ID: "r3", Status: store.RunFailed, Error: "boom"}, `"error":"boom"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := NewRunView(c.run)
			if v.ID != c.want.ID || v.Status != c.want.Status || v.Left != c.want.Left || v.Right != c.want.Right ||
				v.Errors != c.want.Errors || v.Error != c.want.Error || !v.Started.Equal(at) {
				t.Fatalf("got %+v, want %+v", v, c.want)
			}
			b, _ := json.Marshal(v)
			if !strings.Contains(string(b), c.wantJSON) {
				t.Fatalf("JSON %s lacks %s", b, c.wantJSON)
			}
		})
	}
}
