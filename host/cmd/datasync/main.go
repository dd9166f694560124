package main

import (
	"context"
	"os"

	"github.com/datasync-io/datasync/host/cli"
)

func main() { os.Exit(cli.Run(context.Background(), os.Args)) }
