package store

import "context"

// SetConnectionSecrets replaces a connection's sealed secrets alone, e.g. an
// OAuth2 token the host just refreshed: settings, account and status stay.
func (s *Store) SetConnectionSecrets(ctx context.Context, name string, sealed []byte) error {
	return s.exec1(ctx, "save secrets of connection "+name,
		`UPDATE connections SET secrets = ?, updated_at = ? WHERE name = ?`, sealed, fmtTime(s.now()), name)
}
