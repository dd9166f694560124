// Package pluginhost installs connector plugins into $DATASYNC_HOME/plugins
// and launches them checksum-verified, reporting crashes and leaving no orphans.
package pluginhost
