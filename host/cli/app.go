package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/datasync-io/datasync/host/store"
)

// Exit codes of Run.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const appDescription = `datasync keeps records (contacts, companies, ...) in step between two apps.
Every app is reached through a connector plugin; a connection is a plugin plus
the settings and credentials of one account; a sync joins an object of one
connection to an object of another.

Getting started:
   datasync plugin install ./bin/datasync-connector-sqlite
   datasync plugin info sqlite
   datasync connection add crm --plugin sqlite --set path=/data/crm.db
   datasync connection test crm
   datasync connection schema crm
   datasync connection add news --plugin sqlite --set path=/data/newsletter.db
   datasync sync create people --left crm/contacts --right news/subscribers --default-mappings
   datasync sync plan people          # what a run would do, writing nothing
   datasync sync run people
   datasync sync status people        # syncing / excluded / failing, created / updated
   datasync sync errors people        # why records did not sync, and how to fix them
   datasync serve                     # run active syncs on their schedules, API and dashboard

State lives in --home (default ~/.datasync): plugins/, state.db and
master.key, the key that encrypts credentials (or set DATASYNC_MASTER_KEY).
Run "datasync COMMAND --help" for a command's options and examples.`

// Run runs the datasync command line with args (os.Args form) and returns
// the process exit code. Plugins it started are stopped before it returns,
// also on SIGINT or SIGTERM.
func Run(ctx context.Context, args []string) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal a second one kills the process outright
		// (plugins die with it: they get SIGKILL from the kernel).
		<-ctx.Done()
		stop()
	}()
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		interactive: func() bool { return term.IsTerminal(int(os.Stdin.Fd())) }}
	return e.run(ctx, args)
}

func (e *env) run(ctx context.Context, args []string) int {
	defer e.shutdown()
	app := e.app()
	err := app.RunContext(ctx, reorderArgs(app, args))
	if err == nil {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.stderr, "datasync: %s\n", err)
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "datasync: error: %s\n", err)
	return exitError
}

// usageError is a wrong invocation: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usageErrorf reports a wrong invocation of c's command, pointing at its help.
func usageErrorf(c *cli.Context, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...) + fmt.Sprintf(" (see `%s --help`)", c.Command.HelpName)}
}

// Global flag names.
const (
	flagHome      = "home"
	flagLogLevel  = "log-level"
	flagState     = "state"
	flagLogFormat = "log-format"
)

func (e *env) app() *cli.App {
	home := "~/.datasync"
	if h, err := os.UserHomeDir(); err == nil {
		home = filepath.Join(h, ".datasync")
	}
	return &cli.App{
		Name:                      "datasync",
		Usage:                     "keep records in step between two apps",
		UsageText:                 "datasync [global options] command [command options] [arguments...]",
		Description:               appDescription,
		Reader:                    e.stdin,
		Writer:                    e.stdout,
		ErrWriter:                 e.stderr,
		HideVersion:               true,
		DisableSliceFlagSeparator: true, // --set key=a,b keeps its comma
		Suggest:                   true,
		ExitErrHandler:            func(*cli.Context, error) {}, // Run reports errors
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagHome, Usage: "datasync's state `DIR`: plugins, state.db, master.key", EnvVars: []string{"DATASYNC_HOME"}, Value: home},
			&cli.StringFlag{Name: flagState, Usage: "a `postgres://` URL to keep the state in PostgreSQL, shared by several daemons (default: state.db in --home); a password goes in PGPASSWORD", EnvVars: []string{"DATASYNC_STATE"}},
			&cli.StringFlag{Name: flagLogLevel, Usage: "log `LEVEL`: trace, debug, info, warn, error or off", EnvVars: []string{"DATASYNC_LOG_LEVEL"}, Value: "warn"},
			&cli.StringFlag{Name: flagLogFormat, Usage: "log `FORMAT`: text, json, or auto (text on a terminal, else json)", EnvVars: []string{"DATASYNC_LOG_FORMAT"}, Value: "auto"},
		},
		Before:   e.setup,
		Commands: e.commands(),
	}
}

// commands lists the top-level commands. Commands defined elsewhere in the
// package as env methods named below are picked up when they exist, so
// adding one needs no change here.
func (e *env) commands() []*cli.Command {
	cmds := []*cli.Command{e.pluginCommand(), e.connectionCommand()}
	if s, ok := any(e).(interface{ syncCommand() *cli.Command }); ok {
		cmds = append(cmds, s.syncCommand())
	}
	if s, ok := any(e).(interface{ daemonCommand() *cli.Command }); ok {
		cmds = append(cmds, s.daemonCommand())
	}
	return cmds
}

// setup fills e from the global flags.
func (e *env) setup(c *cli.Context) error {
	home := c.String(flagHome)
	if strings.HasPrefix(home, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			home = filepath.Join(h, home[2:])
		}
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("--home %q: %v", home, err)}
	}
	e.home = abs
	if st := c.String(flagState); st != "" && !store.IsPostgresURL(st) {
		return &usageError{msg: "--state: give a postgres://user@host:port/database URL (SQLite state lives in --home)"}
	}
	e.state = c.String(flagState)
	level := hclog.LevelFromString(c.String(flagLogLevel))
	if level == hclog.NoLevel {
		return &usageError{msg: fmt.Sprintf("--log-level %q: use trace, debug, info, warn, error or off", c.String(flagLogLevel))}
	}
	var jsonFormat bool
	switch c.String(flagLogFormat) {
	case "json":
		jsonFormat = true
	case "text":
	case "auto":
		jsonFormat = !isTerminal(e.stderr)
	default:
		return &usageError{msg: fmt.Sprintf("--log-format %q: use auto, text or json", c.String(flagLogFormat))}
	}
	color := hclog.ColorOff
	if !jsonFormat && isTerminal(e.stderr) {
		color = hclog.AutoColor
	}
	e.log = hclog.New(&hclog.LoggerOptions{Name: "datasync", Level: level, Output: e.stderr,
		JSONFormat: jsonFormat, Color: color})
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// reorderArgs lets flags follow arguments (`connection add crm --plugin
// sqlite`) and global flags appear after the command: urfave/cli, like the
// flag package, stops at the first argument. It moves the flags of the
// command named on the line before its arguments, and global flags to the
// front. Everything after "--" stays an argument.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	globals, rest := splitFlags(app.Flags, args[1:])
	var path []string
	cmds := app.Commands
	var leaf *cli.Command
	for len(rest) > 0 && leaf == nil {
		cmd := findCommand(cmds, rest[0])
		if cmd == nil {
			break
		}
		path = append(path, rest[0])
		rest = rest[1:]
		if len(cmd.Subcommands) == 0 {
			leaf = cmd
		}
		cmds = cmd.Subcommands
	}
	out := append([]string{args[0]}, globals...)
	if leaf == nil {
		return append(append(out, path...), rest...)
	}
	// In the tail, global flags move to the front; the command's own flags
	// go before its arguments.
	var own, positional []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			positional = append(positional, rest[i:]...)
			break
		}
		if f, ok := lookupFlag(leaf.Flags, a); ok || !isFlag(a) {
			if !ok {
				positional = append(positional, a)
				continue
			}
			own = append(own, a)
			if takesValue(f) && !strings.Contains(a, "=") && i+1 < len(rest) {
				i++
				own = append(own, rest[i])
			}
			continue
		}
		if f, ok := lookupFlag(app.Flags, a); ok {
			out = append(out, a)
			if takesValue(f) && !strings.Contains(a, "=") && i+1 < len(rest) {
				i++
				out = append(out, rest[i])
			}
			continue
		}
		own = append(own, a) // unknown: let the parser say so
	}
	out = append(append(out, path...), own...)
	return append(out, positional...)
}

// splitFlags takes the leading flags (with their values) off args.
func splitFlags(flags []cli.Flag, args []string) (lead, rest []string) {
	i := 0
	for i < len(args) && isFlag(args[i]) && args[i] != "--" {
		f, ok := lookupFlag(flags, args[i])
		lead = append(lead, args[i])
		if ok && takesValue(f) && !strings.Contains(args[i], "=") && i+1 < len(args) {
			i++
			lead = append(lead, args[i])
		}
		i++
	}
	return lead, args[i:]
}

func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' }

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func lookupFlag(flags []cli.Flag, arg string) (cli.Flag, bool) {
	if !isFlag(arg) {
		return nil, false
	}
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	if name == "help" || name == "h" {
		return &cli.BoolFlag{Name: "help"}, true
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f, true
			}
		}
	}
	return nil, false
}

func takesValue(f cli.Flag) bool {
	_, isBool := f.(*cli.BoolFlag)
	return !isBool
}
