package sdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/datasync-io/datasync/proto/connector/v1"
)

// Handshake is the go-plugin handshake every connector and the host share.
// The cookie only stops a connector binary from being run by mistake; it is
// not a security measure (the host checks a binary's SHA-256 for that).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolMajor,
	MagicCookieKey:   "DATASYNC_CONNECTOR_PLUGIN",
	MagicCookieValue: "3f9c1a7e-datasync-connector",
}

// PluginName is the name the connector is dispensed under.
const PluginName = "connector"

// LogLevelEnv is the environment variable the host passes its log level in.
const LogLevelEnv = "DATASYNC_LOG_LEVEL"

// Message size limits. Batches are cut well below MaxMessageBytes
// (BatchBytes), so only a single record larger than the limit can exceed it,
// and that fails loudly instead of being dropped.
const (
	MaxMessageBytes = 64 << 20
	BatchBytes      = 1 << 20
	BatchRecords    = 2000
)

// VersionedPlugins returns the plugin sets per protocol major version, for a
// go-plugin ClientConfig or ServeConfig. impl is nil on the host side.
func VersionedPlugins(impl Connector, logger hclog.Logger) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolMajor: {PluginName: &grpcPlugin{impl: impl, logger: logger}},
	}
}

// GRPCDialOptions are the options the host dials a connector with.
func GRPCDialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes))}
}

// grpcPlugin adapts a Connector to go-plugin's GRPCPlugin.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl   Connector
	logger hclog.Logger
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterConnectorServer(s, newServer(p.impl, p.logger))
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &RemoteConnector{client: pb.NewConnectorClient(c)}, nil
}

// Dispense returns the connector behind a started go-plugin client.
func Dispense(c *plugin.Client) (*RemoteConnector, error) {
	rpc, err := c.Client()
	if err != nil {
		return nil, fmt.Errorf("connect to plugin: %w", err)
	}
	raw, err := rpc.Dispense(PluginName)
	if err != nil {
		return nil, fmt.Errorf("dispense %s: %w", PluginName, err)
	}
	rc, ok := raw.(*RemoteConnector)
	if !ok {
		return nil, errors.New("plugin did not dispense a connector")
	}
	return rc, nil
}
