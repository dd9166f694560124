package main

import (
	"context"
	"os"

	"github.com/datasync-io/datasync/host/cli"
	_ "github.com/datasync-io/datasync/sdk/hugeheap" // a short run's heap faults in 2 MiB pages
)

func main() { os.Exit(cli.Run(context.Background(), os.Args)) }
