package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/datasync-io/datasync/host/oauth"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

var validConnName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

const secretMask = "****"

func timeoutFlag() cli.Flag {
	return &cli.DurationFlag{Name: "timeout", Usage: "how long the app may take to answer the check", Value: 30 * time.Second}
}

func (e *env) connectionCommand() *cli.Command {
	return &cli.Command{
		Name:  "connection",
		Usage: "add, test, inspect and remove connections (a plugin + one account of an app)",
		Description: `A connection is a plugin plus the settings and credentials of one account.
Credentials are encrypted at rest with the master key and shown as ****.

Examples:
   datasync connection add crm --plugin sqlite --set path=/data/crm.db
   datasync connection add hub --plugin hubspot --secret access_token=pat-123
   datasync connection add hub --plugin hubspot --set client_id=ID --secret client_secret=S   # OAuth2
   datasync connection reauth hub
   datasync connection list
   datasync connection test crm
   datasync connection update crm --secret password=...
   datasync connection schema crm contacts
   datasync connection remove crm`,
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add a connection after checking that it can log in",
				ArgsUsage: "NAME",
				UsageText: "datasync connection add NAME --plugin PLUGIN[@VERSION] [--set KEY=VALUE]... [--secret KEY=VALUE]... [--no-browser | --device]",
				Description: `Settings (--set) and credentials (--secret) are the fields the plugin declares:
see "datasync plugin info PLUGIN". Required fields not given are asked for
when stdin is a terminal (secrets without echo); otherwise the command fails
naming them. The plugin checks the account before anything is saved: on
failure nothing is saved and the message names the cause.

A plugin that declares OAuth2 (see "datasync plugin info PLUGIN") is
authorized in a browser: the command prints the URL to open and waits for
the provider's redirect to 127.0.0.1 (--redirect-port fixes its port for a
client registered with http://127.0.0.1:PORT/callback). Without a browser
on this machine, --no-browser asks you to paste the address the browser was
sent to (or its code); --device uses the device grant where the provider
offers one. The OAuth2 client comes from --set client_id=... and --secret
client_secret=... when the plugin asks for them; --set auth_url=...,
token_url=..., device_auth_url=..., scopes=... point it at a self-hosted
provider. The token is stored encrypted and refreshed by datasync; a token
given as a secret (e.g. a private app's access token) skips the flow.

Examples:
   datasync connection add crm --plugin sqlite --set path=/data/crm.db
   datasync connection add ldap --plugin ldap --set url=ldaps://ldap.example.com \
       --set bind_dn=cn=sync,dc=example,dc=com --secret password=...
   datasync connection add ldap --plugin ldap      # prompts for what is missing
   datasync connection add hub --plugin hubspot --secret access_token=pat-123
   datasync connection add hub --plugin hubspot --set client_id=ID --secret client_secret=S
   datasync connection add hub --plugin hubspot --set client_id=ID --secret client_secret=S --no-browser`,
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "plugin", Usage: "the `PLUGIN[@VERSION]` to connect with (see \"datasync plugin list\")"},
					&cli.StringSliceFlag{Name: "set", Usage: "a setting, `KEY=VALUE` (repeatable)"},
					&cli.StringSliceFlag{Name: "secret", Usage: "a credential, `KEY=VALUE`, stored encrypted (repeatable)"},
					timeoutFlag(),
				}, oauthFlowFlags()...),
				Action: e.connectionAdd,
			},
			{
				Name:      "update",
				Usage:     "change a connection's settings or credentials after checking that it still logs in",
				ArgsUsage: "NAME",
				UsageText: "datasync connection update NAME [--set KEY=VALUE]... [--unset KEY]... [--secret KEY=VALUE]... [--accept-account]",
				Description: `Changes only what is named; the rest stays. The plugin checks the account with
the new configuration before anything is saved: on failure nothing changes
and the message names the cause. A configuration that reaches another
account (another database, say) is refused unless --accept-account is given.
A running daemon picks the change up within 30s (or at SIGHUP); a connection
whose settings changed is watched afresh.

Examples:
   datasync connection update crm --secret password=...        # a rotated password
   datasync connection update crm --set watch_channel=datasync
   datasync connection update crm --unset watch_channel
   datasync connection update crm --set url=postgres://crm@db2.example/crm --accept-account`,
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: "set", Usage: "a setting, `KEY=VALUE` (repeatable)"},
					&cli.StringSliceFlag{Name: "unset", Usage: "a setting or credential to remove, `KEY` (repeatable); its default applies"},
					&cli.StringSliceFlag{Name: "secret", Usage: "a credential, `KEY=VALUE`, stored encrypted (repeatable)"},
					&cli.BoolFlag{Name: "accept-account", Usage: "accept that the new configuration reaches another account"},
					timeoutFlag(),
				},
				Action: e.connectionUpdate,
			},
			e.connectionReauthCommand(),
			{
				Name:      "list",
				Usage:     "list connections (credentials shown as ****)",
				UsageText: "datasync connection list [--json]",
				Description: `Examples:
   datasync connection list
   datasync connection list --json`,
				Flags:  []cli.Flag{jsonFlag()},
				Action: e.connectionList,
			},
			{
				Name:      "test",
				Usage:     "check that a connection still logs in to the same account",
				ArgsUsage: "NAME",
				UsageText: "datasync connection test NAME [--accept-account]",
				Description: `Runs the plugin's check again. When the connection now reaches another
account than the one it was added with, syncs using it are refused; confirm
the change with --accept-account.

Examples:
   datasync connection test crm
   datasync connection test crm --accept-account`,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "accept-account", Usage: "accept that the connection now reaches another account"},
					timeoutFlag(),
				},
				Action: e.connectionTest,
			},
			{
				Name:      "schema",
				Usage:     "show the object types of a connection, or the fields of one",
				ArgsUsage: "NAME [OBJECT]",
				UsageText: "datasync connection schema NAME [OBJECT] [--json]",
				Description: `Examples:
   datasync connection schema crm
   datasync connection schema crm contacts
   datasync connection schema crm contacts --json`,
				Flags:  []cli.Flag{jsonFlag(), timeoutFlag()},
				Action: e.connectionSchema,
			},
			{
				Name:      "remove",
				Usage:     "remove a connection (refused while a sync uses it)",
				ArgsUsage: "NAME",
				UsageText: "datasync connection remove NAME",
				Description: `Examples:
   datasync connection remove crm`,
				Action: e.connectionRemove,
			},
		},
	}
}

// interrupted explains a call cut short by the user (ctx) or by --timeout
// (cctx); nil when neither happened.
func interrupted(ctx, cctx context.Context, c *cli.Context) error {
	if dl, ok := cctx.Deadline(); ok && time.Until(dl) < 100*time.Millisecond {
		// The plugin gets the deadline with the call and may give up a
		// moment before ours fires: its "context canceled" is our timeout.
		<-cctx.Done()
	}
	switch {
	case ctx.Err() != nil:
		return errors.New("interrupted")
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("unreachable: no answer within %s (raise --timeout if the app is slow)", c.Duration("timeout"))
	}
	return nil
}

// parsePairs parses KEY=VALUE flags.
func parsePairs(c *cli.Context, flag string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range c.StringSlice(flag) {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			shown := kv
			if flag == "secret" {
				shown = k + "=..."
			}
			return nil, usageErrorf(c, "--%s %q: write it as KEY=VALUE", flag, shown)
		}
		if _, dup := out[k]; dup {
			return nil, usageErrorf(c, "--%s %s is given twice", flag, k)
		}
		out[k] = v
	}
	return out, nil
}

func fieldNames(fields []sdk.ConfigField) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

func (e *env) connectionAdd(c *cli.Context) error {
	ctx := c.Context
	name, err := oneArg(c, "connection NAME")
	if err != nil {
		return err
	}
	if !validConnName.MatchString(name) {
		return usageErrorf(c, "connection name %q: use letters, digits, '.', '-' and '_' (syncs name it as NAME/OBJECT)", name)
	}
	ref := c.String("plugin")
	if ref == "" {
		return usageErrorf(c, "missing --plugin PLUGIN: the plugin to connect with (see `datasync plugin list`)")
	}
	settings, err := parsePairs(c, "set")
	if err != nil {
		return err
	}
	secretVals, err := parsePairs(c, "secret")
	if err != nil {
		return err
	}
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Connection(ctx, name); err == nil {
		return fmt.Errorf("connection %s already exists: remove it first with `datasync connection remove %s`, or pick another name", name, name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}

	p, err := e.plugins().Launch(ctx, ref)
	if err != nil {
		return err
	}
	defer p.Close()
	desc, err := p.Describe(ctx)
	if err != nil {
		return fmt.Errorf("describe plugin %s: %w", ref, err)
	}
	fields := map[string]sdk.ConfigField{}
	for _, f := range desc.AllFields() {
		fields[f.Name] = f
	}
	spec := desc.Auth.OAuth2
	if spec != nil {
		// The OAuth2 client and a self-hosted provider's endpoints, unless the plugin declares them itself.
		for k := range oauthSettings {
			if _, ok := fields[k]; !ok {
				fields[k] = sdk.ConfigField{Name: k}
			}
		}
		if _, ok := fields[oauth.SettingClientSecret]; !ok {
			fields[oauth.SettingClientSecret] = sdk.ConfigField{Name: oauth.SettingClientSecret, Secret: true}
		}
	}
	if c.Bool("device") && c.Bool("no-browser") {
		return usageErrorf(c, "--device and --no-browser exclude each other")
	}
	// The flow runs when the plugin declares OAuth2 and no token was given as a secret.
	useOAuth := spec != nil && secretVals[tokenSecretName(spec)] == ""
	if !useOAuth {
		for _, f := range []string{"no-browser", "device", "redirect-port"} {
			if c.IsSet(f) {
				why := "plugin " + desc.Name + " does not authorize with OAuth2"
				if spec != nil {
					why = "the token given as --secret " + tokenSecretName(spec) + " skips the OAuth2 flow"
				}
				return usageErrorf(c, "--%s: %s", f, why)
			}
		}
	}
	for k := range settings {
		f, ok := fields[k]
		if !ok {
			return usageErrorf(c, "--set %s: plugin %s has no field %s; its fields are: %s", k, desc.Name, k, fieldNames(desc.AllFields()))
		}
		if f.Secret {
			return usageErrorf(c, "--set %s: %s is a secret: pass it with --secret %s=VALUE so it is stored encrypted", k, k, k)
		}
	}
	for k := range secretVals {
		if _, ok := fields[k]; !ok {
			return usageErrorf(c, "--secret %s: plugin %s has no field %s; its fields are: %s", k, desc.Name, k, fieldNames(desc.AllFields()))
		}
	}
	var missing []sdk.ConfigField
	for _, f := range desc.AllFields() {
		if useOAuth && f.Name == tokenSecretName(spec) {
			continue // the flow supplies it
		}
		if f.Required && f.Default == "" && settings[f.Name] == "" && secretVals[f.Name] == "" {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		if !e.interactive() {
			var want []string
			for _, f := range missing {
				flag := "--set"
				if f.Secret {
					flag = "--secret"
				}
				want = append(want, fmt.Sprintf("%s %s=VALUE", flag, f.Name))
			}
			return usageErrorf(c, "missing required field(s) of plugin %s: pass %s", desc.Name, strings.Join(want, " "))
		}
		if err := e.promptFields(missing, settings, secretVals); err != nil {
			return err
		}
	}
	cfg := desc.WithDefaults(sdk.Config{Settings: settings, Secrets: secretVals})
	vcfg := cfg
	if useOAuth {
		vcfg = sdk.Config{Settings: cfg.Settings, Secrets: map[string]string{tokenSecretName(spec): "(from OAuth2)"}}
		for k, v := range cfg.Secrets {
			vcfg.Secrets[k] = v
		}
	}
	if err := desc.Validate(vcfg); err != nil {
		return fmt.Errorf("connection %s not saved: %s", name, redact(err.Error(), secretVals))
	}
	var conn sdk.Conn
	var held *heldToken
	if useOAuth {
		conf, tok, err := e.authorize(c, *spec, cfg)
		if err != nil {
			return fmt.Errorf("connection %s not saved: %w", name, err)
		}
		conn, held = newFlowConn(name, p, cfg, conf, tok)
	} else if conn, err = p.Open(ctx, cfg); err != nil {
		return fmt.Errorf("connection %s not saved: %w", name, checkError(desc, err, secretVals))
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()
	acct, err := conn.Check(cctx)
	if err != nil {
		if cerr := interrupted(ctx, cctx, c); cerr != nil {
			return fmt.Errorf("connection %s not saved: %w", name, cerr)
		}
		shown := secretVals
		if held != nil {
			shown = oauth.WithToken(secretVals, held.get())
		}
		return fmt.Errorf("connection %s not saved: %w", name, checkError(desc, err, shown))
	}
	if held != nil {
		secretVals = oauth.WithToken(secretVals, held.get())
	}
	sealed, err := e.sealSecrets(secretVals)
	if err != nil {
		return err
	}
	err = st.PutConnection(ctx, store.Connection{Name: name, Plugin: desc.Name, PluginVersion: desc.Version,
		Settings: settings, Secrets: sealed, AccountFingerprint: acct.Fingerprint, AccountLabel: acct.Label, Status: statusOK})
	if err != nil {
		return err
	}
	e.log.Info("connection added", "connection", name, "plugin", desc.Name, "version", desc.Version, "account", acct.Label)
	fmt.Fprintf(e.stdout, "Added connection %s (plugin %s %s), account: %s\n", name, desc.Name, desc.Version, orElse(acct.Label, acct.Fingerprint))
	fmt.Fprintf(e.stdout, "Next: datasync connection schema %s\n", name)
	return nil
}

// connectionUpdate changes what --set, --unset and --secret name, once the
// plugin has checked the account with the result.
func (e *env) connectionUpdate(c *cli.Context) error {
	ctx := c.Context
	name, err := oneArg(c, "connection NAME")
	if err != nil {
		return err
	}
	settings, err := parsePairs(c, "set")
	if err != nil {
		return err
	}
	secretVals, err := parsePairs(c, "secret")
	if err != nil {
		return err
	}
	unset := c.StringSlice("unset")
	if len(settings)+len(secretVals)+len(unset) == 0 {
		return usageErrorf(c, "nothing to change: pass --set KEY=VALUE, --unset KEY or --secret KEY=VALUE")
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
		return err
	}
	desc, err := p.Describe(ctx)
	p.Close()
	if err != nil {
		return fmt.Errorf("describe plugin %s: %w", cn.Plugin, err)
	}
	fields := map[string]sdk.ConfigField{}
	for _, f := range desc.AllFields() {
		fields[f.Name] = f
	}
	known := func(flag, k string) (sdk.ConfigField, error) {
		f, ok := fields[k]
		if !ok && !oauthSettings[k] && k != oauth.SettingClientSecret {
			return f, usageErrorf(c, "--%s %s: plugin %s has no field %s; its fields are: %s", flag, k, desc.Name, k, fieldNames(desc.AllFields()))
		}
		return f, nil
	}
	next := sdk.Config{Settings: maps.Clone(cfg.Settings), Secrets: maps.Clone(cfg.Secrets)}
	for _, k := range unset {
		if _, err := known("unset", k); err != nil {
			return err
		}
		delete(next.Settings, k)
		delete(next.Secrets, k)
	}
	for k, v := range settings {
		f, err := known("set", k)
		if err != nil {
			return err
		}
		if f.Secret {
			return usageErrorf(c, "--set %s: %s is a secret: pass it with --secret %s=VALUE so it is stored encrypted", k, k, k)
		}
		next.Settings[k] = v
	}
	for k, v := range secretVals {
		if _, err := known("secret", k); err != nil {
			return err
		}
		next.Secrets[k] = v
	}
	sealed, err := e.sealSecrets(next.Secrets)
	if err != nil {
		return err
	}
	up := cn
	up.Settings, up.Secrets = next.Settings, sealed
	lc, err := e.launchConnection(ctx, up)
	if err != nil {
		return fmt.Errorf("connection %s not updated: %s", name, redact(err.Error(), next.Secrets))
	}
	defer lc.close()
	cctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()
	acct, err := e.checkAccount(cctx, up, lc)
	var changed *accountChangedError
	switch {
	case errors.As(err, &changed) && c.Bool("accept-account"):
		e.log.Warn("connection account changed and accepted", "connection", name, "was", changed.Was, "now", changed.Now)
	case errors.As(err, &changed):
		return fmt.Errorf("connection %s not updated: the new configuration reaches another account (%s, was %s): "+
			"if that is intended, run it again with --accept-account", name, changed.Now, changed.Was)
	case err != nil:
		if cerr := interrupted(ctx, cctx, c); cerr != nil {
			return fmt.Errorf("connection %s not updated: %w", name, cerr)
		}
		return fmt.Errorf("connection %s not updated: %s", name, strings.TrimPrefix(redact(err.Error(), next.Secrets), "connection "+name+": "))
	}
	up.AccountFingerprint, up.AccountLabel, up.Status = acct.Fingerprint, acct.Label, statusOK
	if err := st.PutConnection(ctx, up); err != nil {
		return err
	}
	var what []string
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		what = append(what, "set "+k)
	}
	for _, k := range unset {
		what = append(what, "unset "+k)
	}
	for _, k := range slices.Sorted(maps.Keys(secretVals)) {
		what = append(what, "new "+k)
	}
	e.log.Info("connection updated", "connection", name, "changes", strings.Join(what, ", "), "account", acct.Label)
	fmt.Fprintf(e.stdout, "Updated connection %s (%s), account: %s\n", name, strings.Join(what, ", "), orElse(acct.Label, acct.Fingerprint))
	return nil
}

// connectionJSON is a connection as --json prints it: secret values are
// never included, only their names.
type connectionJSON struct {
	Name               string            `json:"name"`
	Plugin             string            `json:"plugin"`
	PluginVersion      string            `json:"plugin_version"`
	Settings           map[string]string `json:"settings"`
	Secrets            map[string]string `json:"secrets"` // every value is ****
	SecretsError       string            `json:"secrets_error,omitempty"`
	AccountLabel       string            `json:"account_label"`
	AccountFingerprint string            `json:"account_fingerprint"`
	Status             string            `json:"status"`
	CreatedAt          time.Time         `json:"created_at"`
	UpdatedAt          time.Time         `json:"updated_at"`
}

func (e *env) connectionList(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf(c, "connection list takes no arguments")
	}
	st, err := e.openStore(c.Context)
	if err != nil {
		return err
	}
	defer st.Close()
	conns, err := st.Connections(c.Context)
	if err != nil {
		return err
	}
	out := make([]connectionJSON, 0, len(conns))
	for _, cn := range conns {
		j := connectionJSON{Name: cn.Name, Plugin: cn.Plugin, PluginVersion: cn.PluginVersion, Settings: cn.Settings,
			Secrets: map[string]string{}, AccountLabel: cn.AccountLabel, AccountFingerprint: cn.AccountFingerprint,
			Status: cn.Status, CreatedAt: cn.Created, UpdatedAt: cn.Updated}
		if j.Settings == nil {
			j.Settings = map[string]string{}
		}
		if len(cn.Secrets) > 0 {
			cfg, err := e.connectionConfig(cn)
			if err != nil {
				j.SecretsError = err.Error()
			}
			for k := range cfg.Secrets {
				j.Secrets[k] = secretMask
			}
		}
		out = append(out, j)
	}
	if c.Bool("json") {
		return e.printJSON(out)
	}
	if len(out) == 0 {
		fmt.Fprintln(e.stdout, "No connections. Add one with `datasync connection add NAME --plugin PLUGIN`.")
		return nil
	}
	t := e.newTable("NAME", "PLUGIN", "ACCOUNT", "STATUS", "CONFIG")
	for _, j := range out {
		var cfg []string
		for k, v := range j.Settings {
			cfg = append(cfg, k+"="+v)
		}
		for k, v := range j.Secrets {
			cfg = append(cfg, k+"="+v)
		}
		if j.SecretsError != "" {
			cfg = append(cfg, "(secrets: cannot decrypt)")
		}
		sort.Strings(cfg)
		t.row(j.Name, j.Plugin+" "+j.PluginVersion, j.AccountLabel, j.Status, strings.Join(cfg, " "))
	}
	return t.flush()
}

func (e *env) connectionTest(c *cli.Context) error {
	ctx := c.Context
	name, err := oneArg(c, "connection NAME")
	if err != nil {
		return err
	}
	st, cn, err := e.storedConnection(ctx, name)
	if err != nil {
		return err
	}
	defer st.Close()
	lc, err := e.launchConnection(ctx, cn)
	if err != nil {
		return err
	}
	defer lc.close()
	cctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()
	acct, err := e.checkAccount(cctx, cn, lc)
	var changed *accountChangedError
	switch {
	case errors.As(err, &changed) && c.Bool("accept-account"):
		cn.AccountFingerprint, cn.AccountLabel, cn.Status = acct.Fingerprint, acct.Label, statusOK
		if err := st.PutConnection(ctx, cn); err != nil {
			return err
		}
		e.log.Warn("connection account changed and accepted", "connection", name, "was", changed.Was, "now", changed.Now)
		fmt.Fprintln(e.stdout, changed.accepted())
		return nil
	case err != nil:
		if cerr := interrupted(ctx, cctx, c); cerr != nil {
			return fmt.Errorf("connection %s: %w", name, cerr)
		}
		if serr := st.SetConnectionStatus(ctx, name, statusOf(err)); serr != nil {
			e.log.Warn("could not record connection status", "connection", name, "error", serr)
		}
		return err
	}
	if cn.AccountLabel != acct.Label || cn.AccountFingerprint == "" || cn.Status != statusOK {
		cn.AccountFingerprint, cn.AccountLabel, cn.Status = acct.Fingerprint, acct.Label, statusOK
		if err := st.PutConnection(ctx, cn); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "Connection %s is OK: plugin %s %s, account %s\n", name, lc.desc.Name, lc.desc.Version, orElse(acct.Label, acct.Fingerprint))
	return nil
}

// fieldJSON and objectJSON are a schema as --json prints it.
type fieldJSON struct {
	Name        string   `json:"name"`
	Label       string   `json:"label,omitempty"`
	Type        string   `json:"type"`
	Required    bool     `json:"required"`
	ReadOnly    bool     `json:"read_only"`
	Unique      bool     `json:"unique"`
	MaxLength   int      `json:"max_length,omitempty"`
	Pattern     string   `json:"pattern,omitempty"`
	EnumOptions []string `json:"enum_options,omitempty"`
}

type objectJSON struct {
	Name            string      `json:"name"`
	Label           string      `json:"label,omitempty"`
	Incremental     bool        `json:"incremental"`
	Tombstones      bool        `json:"tombstones"`
	ReadOnly        bool        `json:"read_only"`
	UpsertFields    []string    `json:"upsert_fields,omitempty"`
	ExternalIDField string      `json:"external_id_field,omitempty"`
	Fields          []fieldJSON `json:"fields"`
}

func objectView(o sdk.ObjectType) objectJSON {
	j := objectJSON{Name: o.Name, Label: o.Label, Incremental: o.Incremental, Tombstones: o.Tombstones,
		ReadOnly: o.ReadOnly, UpsertFields: o.UpsertFields, ExternalIDField: o.ExternalIDField, Fields: []fieldJSON{}}
	for _, f := range o.Fields {
		j.Fields = append(j.Fields, fieldJSON{Name: f.Name, Label: f.Label, Type: f.Type.String(), Required: f.Required,
			ReadOnly: f.ReadOnly, Unique: f.Unique, MaxLength: f.MaxLength, Pattern: f.Pattern, EnumOptions: f.EnumOptions})
	}
	return j
}

func (e *env) connectionSchema(c *cli.Context) error {
	ctx := c.Context
	if c.NArg() < 1 || c.NArg() > 2 {
		return usageErrorf(c, "expected NAME [OBJECT]")
	}
	name, object := c.Args().Get(0), c.Args().Get(1)
	cctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()
	conn, _, closeConn, err := e.openConnection(cctx, name)
	if err != nil {
		return err
	}
	defer closeConn()
	schema, err := conn.Schema(cctx)
	if err != nil {
		return fmt.Errorf("connection %s: schema: %w", name, err)
	}
	if object != "" {
		o, ok := schema.Object(object)
		if !ok {
			return fmt.Errorf("connection %s has no object %q; it has: %s", name, object, strings.Join(schema.ObjectNames(), ", "))
		}
		if c.Bool("json") {
			return e.printJSON(objectView(o))
		}
		return e.printObject(name, o)
	}
	objs := make([]objectJSON, len(schema.Objects))
	for i, o := range schema.Objects {
		objs[i] = objectView(o)
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Name < objs[j].Name })
	if c.Bool("json") {
		return e.printJSON(objs)
	}
	if len(objs) == 0 {
		fmt.Fprintf(e.stdout, "Connection %s exposes no objects.\n", name)
		return nil
	}
	t := e.newTable("OBJECT", "LABEL", "FIELDS", "READS")
	for _, o := range objs {
		t.row(o.Name, o.Label, fmt.Sprint(len(o.Fields)), readKind(o))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nFields of one object: datasync connection schema %s OBJECT\n", name)
	return nil
}

func readKind(o objectJSON) string {
	var parts []string
	if o.Incremental {
		parts = append(parts, "incremental")
	} else {
		parts = append(parts, "full")
	}
	if o.Tombstones {
		parts = append(parts, "tombstones")
	}
	if o.ReadOnly {
		parts = append(parts, "read-only")
	}
	return strings.Join(parts, ", ")
}

func (e *env) printObject(conn string, o sdk.ObjectType) error {
	j := objectView(o)
	fmt.Fprintf(e.stdout, "Object %s/%s", conn, o.Name)
	if o.Label != "" {
		fmt.Fprintf(e.stdout, " (%s)", o.Label)
	}
	fmt.Fprintf(e.stdout, ": %s reads", readKind(j))
	if o.ExternalIDField != "" {
		fmt.Fprintf(e.stdout, ", external id in %s", o.ExternalIDField)
	}
	if len(o.UpsertFields) > 0 {
		fmt.Fprintf(e.stdout, ", upsert by %s", strings.Join(o.UpsertFields, ", "))
	}
	fmt.Fprintln(e.stdout)
	t := e.newTable("FIELD", "TYPE", "CONSTRAINTS", "LABEL")
	for _, f := range o.Fields {
		var cons []string
		if f.Required {
			cons = append(cons, "required")
		}
		if f.ReadOnly {
			cons = append(cons, "read-only")
		}
		if f.Unique {
			cons = append(cons, "unique")
		}
		if f.MaxLength > 0 {
			cons = append(cons, fmt.Sprintf("max %d", f.MaxLength))
		}
		if f.Pattern != "" {
			cons = append(cons, "pattern "+f.Pattern)
		}
		if len(f.EnumOptions) > 0 {
			cons = append(cons, "one of "+strings.Join(f.EnumOptions, "|"))
		}
		t.row(f.Name, f.Type.String(), strings.Join(cons, ", "), f.Label)
	}
	return t.flush()
}

func (e *env) connectionRemove(c *cli.Context) error {
	ctx := c.Context
	name, err := oneArg(c, "connection NAME")
	if err != nil {
		return err
	}
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Connection(ctx, name); err != nil {
		return connectionError(name, err)
	}
	users, err := syncsUsing(ctx, st, name)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return fmt.Errorf("connection %s is used by sync(s) %s: delete them first with `datasync sync delete NAME`",
			name, strings.Join(users, ", "))
	}
	if err := st.DeleteConnection(ctx, name); err != nil {
		return connectionError(name, err)
	}
	fmt.Fprintf(e.stdout, "Removed connection %s\n", name)
	return nil
}

// syncsUsing names the syncs with a side on connection name, sorted.
func syncsUsing(ctx context.Context, st *store.Store, name string) ([]string, error) {
	syncs, err := st.Syncs(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, sy := range syncs {
		var d syncdef.Definition
		if err := json.Unmarshal(sy.Definition, &d); err != nil {
			return nil, fmt.Errorf("sync %s: read definition: %w", sy.Name, err)
		}
		if d.Left.Connection == name || d.Right.Connection == name {
			out = append(out, sy.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}
