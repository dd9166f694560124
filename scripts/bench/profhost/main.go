// Command profhost is the datasync CLI with profiling hooks, for finding the host's hot spots:
// DATASYNC_CPUPROFILE=FILE writes a CPU profile, DATASYNC_MEMPROFILE=FILE an allocation profile.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

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
	code := cli.Run(context.Background(), os.Args)
	if path := os.Getenv("DATASYNC_MEMPROFILE"); path != "" {
		runtime.GC()
		if err := writeAllocs(path); err != nil {
			fmt.Fprintln(os.Stderr, "profhost:", err)
			return 1
		}
	}
	return code
}

func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}
