// Package secrets seals connection credentials with AES-256-GCM under the
// master key ($DATASYNC_MASTER_KEY or $DATASYNC_HOME/master.key, 0600).
package secrets
