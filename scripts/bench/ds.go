package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// datasync runs the real CLI with its own DATASYNC_HOME.
type datasync struct {
	bin  string // directory holding datasync and datasync-connector-*
	home string
	env  []string // extra environment
	// profile, when set, is a directory for profiles of every sync run: a CPU and an
	// allocation profile of the host (DATASYNC_CPUPROFILE/MEMPROFILE: a profhost build) and
	// a system-wide perf recording, from which the plugins' profiles are read by command.
	profile string
	log     io.Writer // progress, one line per sync run
}

func (d datasync) cmd(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, filepath.Join(d.bin, "datasync"), args...)
	c.Env = append(append(os.Environ(), "DATASYNC_HOME="+d.home, "DATASYNC_LOG_LEVEL=warn"), d.env...)
	return c
}

// run runs a datasync command and returns its stdout; a failure includes its output.
func (d datasync) run(ctx context.Context, args ...string) ([]byte, error) {
	c := d.cmd(ctx, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("datasync %s: %w\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.Bytes(), nil
}

// sideCounts and runResult are the parts of `sync run --json` the benchmark checks.
type sideCounts struct {
	Read, Created, Updated, Deleted, Failed, Excluded, Unchanged, Verified, Conflicts int
}

type runResult struct {
	Status   string
	Writes   int
	Failed   int
	Left     sideCounts
	Right    sideCounts
	Complete string // why a side was read completely ("": it was not)

	Wall    time.Duration    // exec to exit, measured outside
	HostCPU time.Duration    // user+system CPU of the datasync process itself
	PlugCPU time.Duration    // user+system CPU of its plugins (and any other children)
	HostRSS int64            // peak RSS (VmHWM) of the datasync process, bytes
	Plugins map[string]int64 // peak RSS per plugin process ("name#pid"), bytes
}

// syncRun runs `datasync sync run NAME --json [extra]`, timing it from outside and sampling
// the peak RSS of the host and of its plugin children.
func (d datasync) syncRun(ctx context.Context, name, phase string, extra ...string) (runResult, error) {
	args := append([]string{"sync", "run", name, "--json"}, extra...)
	c := d.cmd(ctx, args...)
	if d.profile != "" {
		base := filepath.Join(d.profile, filepath.Base(d.home)+"-"+phase)
		if filepath.Base(d.home) == "home" {
			base = filepath.Join(d.profile, filepath.Base(filepath.Dir(d.home))+"-"+phase)
		}
		c.Env = append(c.Env, "DATASYNC_CPUPROFILE="+base+".host.cpu.pprof", "DATASYNC_MEMPROFILE="+base+".host.allocs.pprof")
		perf := exec.Command("perf", "record", "-q", "-F", "499", "-g", "-a", "-o", base+".perf.data")
		if err := perf.Start(); err != nil {
			return runResult{}, fmt.Errorf("start perf: %w", err)
		}
		defer func() {
			_ = perf.Process.Signal(os.Interrupt)
			_ = perf.Wait()
		}()
	}
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	began := time.Now()
	if err := c.Start(); err != nil {
		return runResult{}, fmt.Errorf("start datasync: %w", err)
	}
	s := newSampler(c.Process.Pid)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.loop(done) }()
	err := c.Wait()
	wall := time.Since(began)
	close(done)
	wg.Wait()
	if err != nil {
		return runResult{}, fmt.Errorf("datasync %s: %w\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	var r runResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return runResult{}, fmt.Errorf("decode sync run --json: %w\n%s", err, out.String())
	}
	// Conflicts left open for a person (the manual rule) are the only records that
	// may not sync.
	if r.Status != "ok" || r.Failed > r.Left.Conflicts+r.Right.Conflicts {
		return r, fmt.Errorf("sync run %s: status %q, %d failed\n%s%s", name, r.Status, r.Failed, out.String(), errb.String())
	}
	r.Wall = wall
	r.HostRSS, r.Plugins = s.result(c)
	r.HostCPU, r.PlugCPU = s.cpu(c)
	if d.log != nil {
		fmt.Fprintf(d.log, "bench:   %s %s: %v, read %d/%d, verified by digest %d/%d, writes %d, host RSS %s, CPU host %v plugins %v\n", filepath.Base(filepath.Dir(d.home))+"/"+filepath.Base(d.home),
			phase, wall.Round(time.Millisecond), r.Left.Read, r.Right.Read, r.Left.Verified, r.Right.Verified, r.Writes, mb(r.HostRSS),
			r.HostCPU.Round(10*time.Millisecond), r.PlugCPU.Round(10*time.Millisecond))
	}
	return r, nil
}

// sampler polls /proc for the high-water RSS of a process and its children. VmHWM only
// grows, so a late sample holds the peak; the host's own figure is also taken from wait4's
// rusage, whichever is larger, in case the process ended between samples.
type sampler struct {
	pid     int
	host    int64
	hostCPU time.Duration // the host's own CPU at the last sample
	plugins map[int]int64
	names   map[int]string
}

func newSampler(pid int) *sampler {
	return &sampler{pid: pid, plugins: map[int]int64{}, names: map[int]string{}}
}

func (s *sampler) loop(done <-chan struct{}) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		// Looking for new children reads a file per thread of the host (dozens): at every
		// tick that was ~2.5 ms, 13 % of a core taken from the run it measured. The plugins
		// are launched as a run opens: the first second is scanned at every tick, then
		// every 250 ms.
		s.sample(i < 50 || i%12 == 0)
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

func (s *sampler) sample(scan bool) {
	if v, ok := vmHWM(s.pid); ok && v > s.host {
		s.host = v
	}
	if v, ok := procCPU(s.pid); ok {
		s.hostCPU = v
	}
	if scan {
		for _, c := range children(s.pid) {
			if _, known := s.names[c]; known {
				continue
			}
			// Between fork and exec a child still runs the host's image (and shares its
			// memory with vfork): only a child that has become a plugin binary is sampled.
			exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", c))
			if err == nil && strings.HasPrefix(filepath.Base(exe), "datasync-connector-") {
				s.names[c] = filepath.Base(exe)
			}
		}
	}
	for c := range s.names {
		if v, ok := vmHWM(c); ok && v > s.plugins[c] {
			s.plugins[c] = v
		}
	}
}

func (s *sampler) result(c *exec.Cmd) (int64, map[string]int64) {
	host := s.host
	if ru, ok := rusageMaxRSS(c); ok && ru > host && host == 0 {
		host = ru // never sampled: the rusage figure (it may include a child's) is all there is
	}
	out := map[string]int64{}
	for pid, v := range s.plugins {
		out[fmt.Sprintf("%s#%d", strings.TrimPrefix(s.names[pid], "datasync-connector-"), pid)] = v
	}
	return host, out
}

// cpu splits the exited command's CPU time (wait4 counts the process and the
// children it waited for) into the host's own, as last sampled (up to one
// sampling interval short), and the rest: its plugins'.
func (s *sampler) cpu(c *exec.Cmd) (host, plugins time.Duration) {
	total := c.ProcessState.UserTime() + c.ProcessState.SystemTime()
	host = min(s.hostCPU, total)
	return host, total - host
}

// procCPU reads the user+system CPU time pid has used itself (not its
// children's), from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, bool) {
	own, _, ok := procTimes(pid)
	return own, ok
}

// procTimes reads from /proc/<pid>/stat the user+system CPU time pid has used
// itself and that of the children it has waited for.
func procTimes(pid int) (own, reaped time.Duration, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted after its closing one. utime, stime, cutime and
	// cstime are fields 14 to 17, in clock ticks (USER_HZ, 100 on Linux).
	_, rest, found := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !found || len(f) < 15 {
		return 0, 0, false
	}
	var t [4]int64
	for i := range t {
		if t[i], err = strconv.ParseInt(f[11+i], 10, 64); err != nil {
			return 0, 0, false
		}
	}
	tick := 10 * time.Millisecond
	return time.Duration(t[0]+t[1]) * tick, time.Duration(t[2]+t[3]) * tick, true
}

// serverCPU is the CPU a PostgreSQL server has used so far: its postmaster's,
// its live processes' (backends, background workers) and that of those that
// have exited (reaped by the postmaster). The difference of two readings is
// what the server spent between them, provided no backend is left between
// exit and reaping; callers read it once their connections have closed.
func serverCPU(postmaster int) (time.Duration, bool) {
	own, reaped, ok := procTimes(postmaster)
	if !ok {
		return 0, false
	}
	total := own + reaped
	for _, c := range children(postmaster) {
		if v, ok := procCPU(c); ok {
			total += v
		}
	}
	return total, true
}

// vmHWM reads the peak resident set size of pid in bytes.
func vmHWM(pid int) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, false
			}
			return kb * 1024, true
		}
	}
	return 0, false
}

// children lists the child processes of pid (any of its threads may have forked them).
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}
