package testsvc

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Meter measures a benchmark per record: wall time, this process's CPU time
// (user + system, so work on other goroutines counts) and allocations, over
// the spans between Begin and End only; setup outside them is not counted.
type Meter struct {
	b         *testing.B
	n         int
	wall, cpu time.Duration
	allocs    uint64
	start     time.Time
	cpu0      time.Duration
	m0        uint64
}

// NewMeter returns a Meter reporting to b.
func NewMeter(b *testing.B) *Meter { return &Meter{b: b} }

// Begin starts a measured span, after a GC: the setup's garbage is not the
// measured code's.
func (m *Meter) Begin() {
	runtime.GC()
	m.start, m.cpu0, m.m0 = time.Now(), cpuTime(), mallocs()
}

// End ends the span that handled n records.
func (m *Meter) End(n int) {
	m.wall += time.Since(m.start)
	m.cpu += cpuTime() - m.cpu0
	m.allocs += mallocs() - m.m0
	m.n += n
}

// Report reports ns/rec, cpu-ns/rec and allocs/rec.
func (m *Meter) Report() {
	if m.n == 0 {
		return
	}
	m.b.ReportMetric(float64(m.wall.Nanoseconds())/float64(m.n), "ns/rec")
	m.b.ReportMetric(float64(m.cpu.Nanoseconds())/float64(m.n), "cpu-ns/rec")
	m.b.ReportMetric(float64(m.allocs)/float64(m.n), "allocs/rec")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}
