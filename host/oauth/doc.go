// Package oauth runs the OAuth2 flows a connector declares (authorization code with PKCE over a
// loopback redirect or a pasted URL, device grant), stores tokens as secrets, and refreshes them.
package oauth
