package pluginhost

import (
	"strings"
	"testing"
)

func TestCompareVersions(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"1.0.0", "1.0.0", 0},
		{"1.0.0", "1.1.0", -1},
		{"1.10.0", "1.9.0", 1},
		{"v2.0.0", "1.99.99", 1},
		{"1.0.0-rc1", "1.0.0", -1},
		{"1.0.0", "1.0.0-rc1", 1},
		{"1.0.0-rc1", "1.0.0-rc2", -1},
		{"1.0", "1.0.1", -1},
		{"1.0.0+build5", "1.0.0", 0},
		{"1.0.0-alpha", "1.0.0-1", 1},
	}
	for _, c := range cases {
		if got := compareVersions(c.a, c.b); got != c.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestCaptureKeepsPanicNotLogs(t *testing.T) {
	cases := []struct {
		name   string
		writes []string
		want   string
	}{
		{"panic split across writes",
			[]string{`{"@level":"info","@message":"hi"}`, "\n", "panic: boo", "m", "\n", "\n", "goroutine 1 [running]:", "\n", "main.main()\n"},
			"panic: boom\n\ngoroutine 1 [running]:\nmain.main()"},
		{"no panic: last lines", []string{"starting\n", `{"@message":"x"}` + "\n", "bye\n"}, "starting\nbye"},
		{"fatal error", []string{"noise\nfatal error: concurrent map writes\n"}, "fatal error: concurrent map writes"},
		{"only logs", []string{`{"@message":"x"}` + "\n"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cp := newCapture()
			for _, w := range c.writes {
				if _, err := cp.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
			}
			if got := cp.Output(); got != c.want {
				t.Fatalf("output = %q, want %q", got, c.want)
			}
		})
	}
}

func TestCaptureBoundsItsMemory(t *testing.T) {
	cp := newCapture()
	for i := 0; i < 1000; i++ {
		cp.Write([]byte("line\n"))
	}
	if n := strings.Count(cp.Output(), "\n") + 1; n != maxTailLines {
		t.Fatalf("kept %d lines, want %d", n, maxTailLines)
	}
	cp.Write([]byte("panic: x\n"))
	for i := 0; i < 1000; i++ {
		cp.Write([]byte("\tframe\n"))
	}
	if n := strings.Count(cp.Output(), "\n") + 1; n != maxPanicLines {
		t.Fatalf("kept %d panic lines, want %d", n, maxPanicLines)
	}
}

func TestCrashErrorMessage(t *testing.T) {
	e := &CrashError{Plugin: "x", Output: "panic: oops\n\ngoroutine 5 [running]:\nmain.f()\n\t/src/main.go:3\nmain.g()\n\t/src/main.go:9\nmore"}
	want := "plugin x crashed: panic: oops\n    goroutine 5 [running]:\n    main.f()\n    \t/src/main.go:3\n    main.g()\n    \t/src/main.go:9"
	if e.Error() != want {
		t.Fatalf("%q\nwant %q", e.Error(), want)
	}
	if got := (&CrashError{Plugin: "x"}).Error(); got != "plugin x crashed: the process exited unexpectedly" {
		t.Fatal(got)
	}
}
