package main

import "github.com/datasync-io/datasync/sdk"

func main() { sdk.Serve(New()) }
