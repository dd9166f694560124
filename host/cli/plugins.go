package cli

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/datasync-io/datasync/host/pluginhost"
)

func (e *env) pluginCommand() *cli.Command {
	return &cli.Command{
		Name:  "plugin",
		Usage: "install, list, inspect and remove connector plugins",
		Description: `A plugin is a connector binary (datasync-connector-NAME) that reaches one kind
of app. Installing it checks that it is a datasync connector speaking this
datasync's protocol and records its SHA-256: a binary changed afterwards is
refused at launch.

Examples:
   datasync plugin install ./bin/datasync-connector-sqlite
   datasync plugin list
   datasync plugin info sqlite
   datasync plugin remove sqlite@1.0.0`,
		Subcommands: []*cli.Command{
			{
				Name:      "install",
				Usage:     "install a connector plugin binary",
				ArgsUsage: "PATH",
				UsageText: "datasync plugin install PATH",
				Description: `Launches the binary once, asks it to describe itself, checks its protocol
version and copies it to HOME/plugins/NAME/VERSION/ with a manifest. Installing
the same name and version again replaces it; other versions stay.

Examples:
   datasync plugin install ./bin/datasync-connector-sqlite
   datasync --home /srv/datasync plugin install /tmp/datasync-connector-crm`,
				Action: e.pluginInstall,
			},
			{
				Name:      "list",
				Usage:     "list installed plugins",
				UsageText: "datasync plugin list [--json]",
				Description: `Examples:
   datasync plugin list
   datasync plugin list --json | jq -r '.[].name'`,
				Flags:  []cli.Flag{jsonFlag()},
				Action: e.pluginList,
			},
			{
				Name:      "info",
				Usage:     "show what a plugin needs: settings, credentials, account requirements",
				ArgsUsage: "NAME[@VERSION]",
				UsageText: "datasync plugin info NAME[@VERSION] [--json]",
				Description: `Shows the highest installed version unless a version is given.

Examples:
   datasync plugin info sqlite
   datasync plugin info sqlite@1.0.0 --json`,
				Flags:  []cli.Flag{jsonFlag()},
				Action: e.pluginInfo,
			},
			{
				Name:      "remove",
				Usage:     "uninstall a plugin (every version, or one)",
				ArgsUsage: "NAME[@VERSION]",
				UsageText: "datasync plugin remove NAME[@VERSION]",
				Description: `Refuses while connections use the plugin and no other version would remain.

Examples:
   datasync plugin remove sqlite@1.0.0
   datasync plugin remove sqlite`,
				Action: e.pluginRemove,
			},
		},
	}
}

func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"}
}

// oneArg returns the single argument of c's command.
func oneArg(c *cli.Context, what string) (string, error) {
	switch c.NArg() {
	case 1:
		return c.Args().First(), nil
	case 0:
		return "", usageErrorf(c, "missing %s", what)
	}
	return "", usageErrorf(c, "expected one %s, got %d arguments: %s", what, c.NArg(), strings.Join(c.Args().Slice(), " "))
}

func (e *env) pluginInstall(c *cli.Context) error {
	path, err := oneArg(c, "PATH of the plugin binary")
	if err != nil {
		return err
	}
	man, err := e.plugins().Install(c.Context, path)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Installed plugin %s %s (protocol v%d, sha256 %s)\n", man.Name, man.Version, man.Protocol, man.SHA256)
	fmt.Fprintf(e.stdout, "Next: datasync plugin info %s, then %s\n", man.Name, addExample("NAME", man))
	return nil
}

// addExample is the connection add command line a manifest asks for.
func addExample(conn string, man pluginhost.Manifest) string {
	parts := []string{"datasync connection add", conn, "--plugin", man.Name}
	for _, f := range append(append([]pluginhost.Field(nil), man.AuthFields...), man.Settings...) {
		if !f.Required {
			continue
		}
		flag := "--set"
		if f.Secret {
			flag = "--secret"
		}
		v := strings.ToUpper(f.Name)
		if f.Example != "" && !f.Secret {
			v = f.Example
		}
		parts = append(parts, flag, f.Name+"="+v)
	}
	return strings.Join(parts, " ")
}

// pluginJSON is a plugin as --json prints it.
type pluginJSON struct {
	pluginhost.Manifest
	Path string `json:"path"`
}

func (e *env) pluginList(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf(c, "plugin list takes no arguments")
	}
	list, err := e.plugins().List()
	if err != nil {
		return err
	}
	if c.Bool("json") {
		out := make([]pluginJSON, len(list))
		for i, m := range list {
			out[i] = pluginJSON{Manifest: m, Path: m.Path}
		}
		return e.printJSON(out)
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "No plugins installed. Install one with `datasync plugin install PATH`.")
		return nil
	}
	t := e.newTable("NAME", "VERSION", "PROTOCOL", "INSTALLED", "DESCRIPTION")
	for _, m := range list {
		t.row(m.Name, m.Version, fmt.Sprintf("v%d", m.Protocol), m.InstalledAt.Local().Format("2006-01-02 15:04"), m.Description)
	}
	return t.flush()
}

func (e *env) pluginInfo(c *cli.Context) error {
	ref, err := oneArg(c, "plugin NAME")
	if err != nil {
		return err
	}
	man, err := e.plugins().Info(ref)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return e.printJSON(pluginJSON{Manifest: man, Path: man.Path})
	}
	all, err := e.plugins().List()
	if err != nil {
		return err
	}
	var others []string
	for _, m := range all {
		if m.Name == man.Name && m.Version != man.Version {
			others = append(others, m.Version)
		}
	}
	w := e.stdout
	fmt.Fprintf(w, "Plugin:       %s %s (connector protocol v%d)\n", man.Name, man.Version, man.Protocol)
	if man.Description != "" {
		fmt.Fprintf(w, "Description:  %s\n", man.Description)
	}
	fmt.Fprintf(w, "Binary:       %s\n", man.Path)
	fmt.Fprintf(w, "SHA-256:      %s\n", man.SHA256)
	fmt.Fprintf(w, "Installed:    %s\n", man.InstalledAt.Local().Format(time.RFC1123))
	if len(others) > 0 {
		fmt.Fprintf(w, "Other versions installed: %s\n", strings.Join(others, ", "))
	}
	if len(man.Capabilities) > 0 {
		fmt.Fprintf(w, "Capabilities: %s\n", strings.Join(man.Capabilities, ", "))
	}
	if len(man.Requirements) > 0 {
		fmt.Fprintln(w, "\nAccount requirements:")
		for _, r := range man.Requirements {
			fmt.Fprintf(w, "  - %s\n", r)
		}
	}
	if len(man.AuthFields) > 0 || man.OAuth2 != nil {
		fmt.Fprintln(w, "\nCredentials (--set, or --secret for secret ones):")
		e.printFields(man.AuthFields)
		if o := man.OAuth2; o != nil {
			fmt.Fprintf(w, "  OAuth2 via %s, scopes: %s\n", o.AuthURL, strings.Join(o.Scopes, " "))
		}
	}
	if len(man.Settings) > 0 {
		fmt.Fprintln(w, "\nSettings (--set):")
		e.printFields(man.Settings)
	}
	fmt.Fprintf(w, "\nAdd a connection:\n  %s\n", addExample("NAME", man))
	return nil
}

func (e *env) printFields(fields []pluginhost.Field) {
	t := e.newTable("  NAME", "LABEL", "NOTES", "DESCRIPTION")
	for _, f := range fields {
		var flags []string
		if f.Required {
			flags = append(flags, "required")
		}
		if f.Secret {
			flags = append(flags, "secret")
		}
		if f.Default != "" {
			flags = append(flags, "default "+f.Default)
		}
		if f.Example != "" && !f.Secret {
			flags = append(flags, "e.g. "+f.Example)
		}
		t.row("  "+f.Name, f.Label, strings.Join(flags, ", "), f.Description)
	}
	_ = t.flush()
}

func (e *env) pluginRemove(c *cli.Context) error {
	ref, err := oneArg(c, "plugin NAME[@VERSION]")
	if err != nil {
		return err
	}
	name, version := pluginhost.SplitRef(ref)
	if _, err := e.plugins().Info(ref); err != nil {
		return err
	}
	// Connections run on the highest installed version of their plugin, so
	// removing is only refused when no version would be left for them.
	remaining := 0
	if version != "" {
		all, err := e.plugins().List()
		if err != nil {
			return err
		}
		for _, m := range all {
			if m.Name == name && m.Version != version {
				remaining++
			}
		}
	}
	if remaining == 0 {
		users, err := e.connectionsUsing(c, name)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("plugin %s is used by connection(s) %s: remove them first with `datasync connection remove NAME`",
				name, strings.Join(users, ", "))
		}
	}
	gone, err := e.plugins().Remove(ref)
	if err != nil {
		return err
	}
	for _, m := range gone {
		fmt.Fprintf(e.stdout, "Removed plugin %s %s\n", m.Name, m.Version)
	}
	return nil
}

// connectionsUsing names the connections of plugin name, sorted.
func (e *env) connectionsUsing(c *cli.Context, name string) ([]string, error) {
	st, err := e.openStore(c.Context)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	conns, err := st.Connections(c.Context)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, cn := range conns {
		if cn.Plugin == name {
			out = append(out, cn.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}
