// Command profhost is the datasync CLI with profiling hooks, for finding the host's hot spots:
// DATASYNC_CPUPROFILE=FILE writes a CPU profile, DATASYNC_MEMPROFILE=FILE an allocation profile,
// DATASYNC_HEAPPROFILE=PREFIX the live heap each second, as PREFIX.1, PREFIX.2, … (compare two
// with go tool pprof -diff_base to see what a run keeps).
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/datasync-io/datasync/host/cli"
)

func main() { os.Exit(run()) }

func run() int {
	if path := os.Getenv("DATASYNC_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "profhost:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "profhost: start CPU profile:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	if path := os.Getenv("DATASYNC_HEAPPROFILE"); path != "" {
		go func() {
			for i := 1; ; i++ {
				time.Sleep(time.Second)
				runtime.GC()
				if err := writeProfile(fmt.Sprintf("%s.%d", path, i), "heap"); err != nil {
					fmt.Fprintln(os.Stderr, "profhost:", err)
					return
				}
			}
		}()
	}
	code := cli.Run(context.Background(), os.Args)
	if path := os.Getenv("DATASYNC_MEMPROFILE"); path != "" {
		runtime.GC()
		if err := writeProfile(path, "allocs"); err != nil {
			fmt.Fprintln(os.Stderr, "profhost:", err)
			return 1
		}
	}
	return code
}

func writeProfile(path, name string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup(name).WriteTo(f, 0)
}
