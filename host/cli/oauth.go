package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/oauth2"

	"github.com/datasync-io/datasync/host/oauth"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/sdk"
)

// oauthSettings are the settings any connection of an OAuth2 connector may
// set beside the plugin's own fields: the client, and the endpoints of a
// self-hosted provider. client_secret is the one secret among them.
var oauthSettings = map[string]bool{
	oauth.SettingClientID: true, oauth.SettingAuthURL: true, oauth.SettingTokenURL: true,
	oauth.SettingDeviceAuthURL: true, oauth.SettingScopes: true, oauth.SettingRedirectURI: true,
	oauth.SettingTokenAuthMethod: true,
}

// oauthFlowFlags choose how the admin authorizes: a browser on this
// machine (loopback redirect), a pasted redirect, or the device grant.
func oauthFlowFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "no-browser", Usage: "OAuth2: no browser on this machine; paste the redirect URL (or code) back"},
		&cli.BoolFlag{Name: "device", Usage: "OAuth2: use the device grant (enter a code on another device), where the provider offers it"},
		&cli.IntFlag{Name: "redirect-port", Usage: "OAuth2: listen for the loopback redirect on this `PORT` (for a client registered with http://127.0.0.1:PORT/callback); default: a random port"},
		&cli.DurationFlag{Name: "auth-timeout", Usage: "OAuth2: how long to wait for the authorization", Value: 10 * time.Minute},
	}
}

// tokenSecretName is the secret an OAuth2 connector reads its access token
// from; a private-app token given there skips the flow.
func tokenSecretName(spec *sdk.OAuth2Spec) string {
	if spec.TokenSecret != "" {
		return spec.TokenSecret
	}
	return oauth.DefaultTokenSecret
}

// usesOAuth reports whether a stored connection authorizes with OAuth2: its
// connector declares it and its secrets hold a token from the flow (a
// connection added with a private-app token does not).
func usesOAuth(desc sdk.Description, cfg sdk.Config) bool {
	if desc.Auth.OAuth2 == nil {
		return false
	}
	_, err := oauth.FromSecrets(cfg.Secrets)
	return err == nil
}

// authorize resolves the OAuth2 client of cfg and runs the flow the flags
// choose; the admin reads on stdout what to open.
func (e *env) authorize(c *cli.Context, spec sdk.OAuth2Spec, cfg sdk.Config) (*oauth.Config, *oauth2.Token, error) {
	conf, err := oauth.Resolve(spec, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("OAuth2 client: %w", err)
	}
	if p := c.Int("redirect-port"); p != 0 {
		if p < 0 || p > 65535 {
			return nil, nil, usageErrorf(c, "--redirect-port %d: want a TCP port", p)
		}
		conf.RedirectURI = fmt.Sprintf("http://127.0.0.1:%d%s", p, oauth.DefaultRedirectPath)
	}
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("auth-timeout"))
	defer cancel()
	flow := &oauth.Flow{Config: conf, NoBrowser: c.Bool("no-browser")}
	var tok *oauth2.Token
	if c.Bool("device") {
		if conf.DeviceAuthURL == "" {
			return nil, nil, usageErrorf(c, "--device: the provider declares no device authorization endpoint "+
				"(set %s if it has one), so authorize with a browser or --no-browser", oauth.SettingDeviceAuthURL)
		}
		tok, err = flow.RunDevice(ctx, e.stdout)
	} else {
		tok, err = flow.Run(ctx, e.stdout, e.stdin)
	}
	if err != nil {
		if c.Context.Err() != nil {
			return nil, nil, errors.New("interrupted")
		}
		return nil, nil, fmt.Errorf("OAuth2 authorization: %w", err)
	}
	fmt.Fprintln(e.stdout, "Authorized.")
	return conf, tok, nil
}

// heldToken keeps the newest token of a connection not saved yet: a refresh
// during its first Check may rotate the refresh token.
type heldToken struct {
	mu  sync.Mutex
	tok *oauth2.Token
}

func (h *heldToken) save(_ context.Context, tok *oauth2.Token) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tok = tok
	return nil
}

func (h *heldToken) get() *oauth2.Token {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tok
}

// newFlowConn opens a connection for a token the flow just got, before
// anything is stored: refreshes land in the returned holder.
func newFlowConn(name string, p sdk.Connector, cfg sdk.Config, conf *oauth.Config, tok *oauth2.Token) (sdk.Conn, *heldToken) {
	h := &heldToken{tok: tok}
	ref := oauth.NewRefresher(name, conf, tok, h.save, oauth.RefresherOptions{})
	return oauth.NewConn(p, cfg, conf, ref), h
}

// openPluginConn opens a stored connection through its plugin. An OAuth2
// connection gets the host's token handling: the plugin receives the
// current access token per call; a refreshed token (with its rotated
// refresh token) is sealed and stored before any call uses it; a dead grant
// fails with *oauth.ReauthRequiredError.
func (e *env) openPluginConn(ctx context.Context, c store.Connection, p sdk.Connector, desc sdk.Description, cfg sdk.Config) (sdk.Conn, error) {
	if !usesOAuth(desc, cfg) {
		return p.Open(ctx, cfg)
	}
	conf, err := oauth.Resolve(*desc.Auth.OAuth2, cfg)
	if err != nil {
		return nil, fmt.Errorf("OAuth2 client: %w", err)
	}
	tok, err := oauth.FromSecrets(cfg.Secrets)
	if err != nil {
		return nil, err
	}
	ts := &tokenStore{e: e, name: c.Name, secrets: cfg.Secrets}
	ref := oauth.NewRefresher(c.Name, conf, tok, ts.save, oauth.RefresherOptions{Load: ts.load})
	return oauth.NewConn(p, cfg, conf, ref), nil
}

// tokenStore saves a connection's refreshed tokens into its sealed secrets,
// and reads back a token another process (the daemon, another command)
// stored since, so it is adopted rather than refreshed from a rotated-out
// refresh token.
type tokenStore struct {
	e    *env
	name string

	mu      sync.Mutex
	secrets map[string]string
}

func (ts *tokenStore) save(ctx context.Context, tok *oauth2.Token) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	next := oauth.WithToken(ts.secrets, tok)
	sealed, err := ts.e.sealSecrets(next)
	if err != nil {
		return fmt.Errorf("seal the refreshed token of connection %s: %w", ts.name, err)
	}
	st, err := ts.e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.SetConnectionSecrets(ctx, ts.name, sealed); err != nil {
		return err
	}
	ts.secrets = next
	ts.e.log.Debug("stored refreshed OAuth2 token", "connection", ts.name, "token", oauth.NewToken(tok))
	return nil
}

func (ts *tokenStore) load(ctx context.Context) (*oauth2.Token, error) {
	st, err := ts.e.openStore(ctx)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	c, err := st.Connection(ctx, ts.name)
	if err != nil {
		return nil, err
	}
	cfg, err := ts.e.connectionConfig(c)
	if err != nil {
		return nil, err
	}
	tok, err := oauth.FromSecrets(cfg.Secrets)
	if errors.Is(err, oauth.ErrNoToken) {
		return nil, nil
	}
	return tok, err
}

func (e *env) connectionReauthCommand() *cli.Command {
	return &cli.Command{
		Name:      "reauth",
		Usage:     "authorize an OAuth2 connection again (after its grant was revoked or expired)",
		ArgsUsage: "NAME",
		UsageText: "datasync connection reauth NAME [--no-browser | --device] [--redirect-port PORT]",
		Description: `Runs the OAuth2 authorization again for a connection whose refresh token
no longer works (its status is "auth"; syncs using it are held). The new
authorization must reach the same account as before; the new token is stored
encrypted and the connection's syncs resume.

Examples:
   datasync connection reauth hub
   datasync connection reauth hub --no-browser
   datasync connection reauth hub --device`,
		Flags:  append(oauthFlowFlags(), timeoutFlag()),
		Action: e.connectionReauth,
	}
}

func (e *env) connectionReauth(c *cli.Context) error {
	ctx := c.Context
	name, err := oneArg(c, "connection NAME")
	if err != nil {
		return err
	}
	if c.Bool("device") && c.Bool("no-browser") {
		return usageErrorf(c, "--device and --no-browser exclude each other")
	}
	st, cn, err := e.storedConnection(ctx, name)
	if err != nil {
		return err
	}
	defer st.Close()
	cfg, err := e.connectionConfig(cn)
	if err != nil {
		return err
	}
	p, err := e.plugins().Launch(ctx, cn.Plugin)
	if err != nil {
		return fmt.Errorf("connection %s: %w", name, err)
	}
	defer p.Close()
	desc, err := p.Describe(ctx)
	if err != nil {
		return fmt.Errorf("connection %s: describe plugin %s: %w", name, cn.Plugin, err)
	}
	spec := desc.Auth.OAuth2
	if spec == nil {
		return fmt.Errorf("connection %s: plugin %s does not authorize with OAuth2; change its credentials by "+
			"removing and adding the connection again", name, desc.Name)
	}
	cfg = desc.WithDefaults(cfg)
	conf, tok, err := e.authorize(c, *spec, cfg)
	if err != nil {
		return fmt.Errorf("connection %s not re-authorized: %w", name, err)
	}
	conn, held := newFlowConn(name, p, cfg, conf, tok)
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()
	acct, err := conn.Check(cctx)
	if err != nil {
		if cerr := interrupted(ctx, cctx, c); cerr != nil {
			return fmt.Errorf("connection %s not re-authorized: %w", name, cerr)
		}
		return fmt.Errorf("connection %s not re-authorized: %w", name,
			checkError(desc, err, map[string]string{"t": held.get().AccessToken}))
	}
	if cn.AccountFingerprint != "" && acct.Fingerprint != cn.AccountFingerprint {
		return fmt.Errorf("connection %s not re-authorized: the authorization reached account %q, but the connection "+
			"was added for %q; nothing changed. Authorize as that account, or add a new connection for the other one",
			name, orElse(acct.Label, acct.Fingerprint), orElse(cn.AccountLabel, cn.AccountFingerprint))
	}
	stored, err := e.connectionConfig(cn) // as stored: without the plugin's defaults
	if err != nil {
		return err
	}
	if cn.Secrets, err = e.sealSecrets(oauth.WithToken(stored.Secrets, held.get())); err != nil {
		return err
	}
	was := cn.Status
	cn.AccountLabel, cn.Status = orElse(acct.Label, cn.AccountLabel), statusOK
	if cn.AccountFingerprint == "" {
		cn.AccountFingerprint = acct.Fingerprint
	}
	if err := st.PutConnection(ctx, cn); err != nil {
		return err
	}
	e.log.Info("connection re-authorized", "connection", name, "was", was, "account", acct.Label)
	fmt.Fprintf(e.stdout, "Connection %s re-authorized (account %s); its status is ok again (was %s).\n",
		name, orElse(acct.Label, acct.Fingerprint), was)
	users, err := syncsUsing(ctx, st, name)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		fmt.Fprintf(e.stdout, "Syncs using it resume: %s\n", strings.Join(users, ", "))
	}
	return nil
}
