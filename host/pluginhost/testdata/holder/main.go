// Command holder is a stand-in host for the no-orphan test: it launches an
// installed plugin, prints the plugin's pid and blocks until killed.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/datasync-io/datasync/host/pluginhost"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: holder HOME PLUGIN")
		os.Exit(2)
	}
	p, err := pluginhost.New(os.Args[1], nil).Launch(context.Background(), os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(p.Pid())
	select {}
}
