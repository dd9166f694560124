// Package sdk is what a connector vendor imports: the Connector interface,
// typed values, categorized errors, Serve, and the client the host uses.
package sdk
