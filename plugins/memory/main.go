// Command datasync-connector-memory is the in-memory reference connector as a
// plugin binary; set the "path" setting to keep its data between launches.
package main

import (
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/memory"
)

func main() { sdk.Serve(memory.New()) }
