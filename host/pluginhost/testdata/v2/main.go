// Command v2 is a connector that speaks only connector protocol v2, for the
// plugin host's test that such a plugin is refused.
package main

import (
	"context"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/datasync-io/datasync/sdk"
)

func main() {
	hs := sdk.Handshake
	hs.ProtocolVersion = 2
	logger := hclog.New(&hclog.LoggerOptions{JSONFormat: true})
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  hs,
		VersionedPlugins: map[int]plugin.PluginSet{2: sdk.VersionedPlugins(connector{}, logger)[sdk.ProtocolMajor]},
		GRPCServer:       plugin.DefaultGRPCServer,
		Logger:           logger,
	})
}

type connector struct{}

func (connector) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "future", Version: "2.0.0"}, nil
}

func (connector) Open(context.Context, sdk.Config) (sdk.Conn, error) {
	return nil, sdk.Errorf(sdk.CategoryPermanent, "not implemented")
}
