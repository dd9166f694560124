package sdk

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// ClientConfig is the go-plugin client configuration for a connector binary
// at path; the host adds its checksum check (SecureConfig) to it.
func ClientConfig(path string, logger hclog.Logger) *plugin.ClientConfig {
	cmd := exec.Command(path)
	cmd.Env = append(cmd.Environ(), LogLevelEnv+"="+levelName(logger))
	return &plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: VersionedPlugins(nil, nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           logger,
		GRPCDialOptions:  GRPCDialOptions(),
	}
}

func levelName(l hclog.Logger) string {
	if l == nil {
		return "info"
	}
	return l.GetLevel().String()
}

// LaunchPlugin starts the connector binary at path and returns it with a
// function that stops it. Vendors use it to run the conformance suite against
// their real binary; the host's plugin manager adds checksums and restarts.
func LaunchPlugin(_ context.Context, path string, logger hclog.Logger) (*RemoteConnector, func(), error) {
	if logger == nil {
		logger = hclog.New(&hclog.LoggerOptions{Name: "plugin", Level: hclog.Warn})
	}
	client := plugin.NewClient(ClientConfig(path, logger))
	rc, err := Dispense(client)
	if err != nil {
		client.Kill()
		return nil, nil, fmt.Errorf("launch %s: %w", path, err)
	}
	return rc, client.Kill, nil
}
