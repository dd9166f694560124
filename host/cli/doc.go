// Package cli is the datasync command line: global flags, the plugin and
// connection commands, and the environment every command shares.
//
// Adding commands (e.g. the sync commands in sync*.go): define
//
//	func (e *env) syncCommand() *cli.Command
//
// in this package; app.go picks it up by that name (see (*env).commands),
// so no other file changes. A command's Action gets everything through e:
//
//   - e.home, e.log (hclog, named "datasync", at --log-level), e.stdin,
//     e.stdout, e.stderr: never write to os.Stdout/os.Stderr directly.
//   - e.openStore(ctx) (*store.Store, error): the state database
//     $home/state.db, created on first use; the caller closes it.
//   - e.plugins() *pluginhost.Manager: install/list/launch plugins.
//   - e.openConnection(ctx, name) (sdk.Conn, sdk.Description, func(), error):
//     the named connection, its plugin launched (checksum-verified, highest
//     installed version), its secrets decrypted, and Check run: a failure
//     is one connection-level error ("connection crm: authentication
//     failed: ...", or *accountChangedError when it reaches another account
//     than when it was added) and is recorded as the connection's status.
//     Call the func to close the connection and stop the plugin. Errors of
//     a crashed plugin are *pluginhost.CrashError ("plugin X crashed: ...");
//     call openConnection again to restart it.
//   - e.launchConnection(ctx, c store.Connection) (*liveConn, error): the
//     same without Check (liveConn: conn, desc, cfg, close).
//   - e.checkAccount(ctx, c, lc) (sdk.Account, error): Check plus the
//     fingerprint comparison; statusOf(err) names a failure for the store.
//   - e.printJSON(v): indented JSON on stdout, for --json.
//   - e.newTable("NAME", "STATE", ...) then t.row(cells...) and t.flush():
//     an aligned text table on stdout.
//   - usageErrorf(c, format, args...): a wrong invocation; exits 2 and
//     points at the command's --help.
//   - checkError(name, desc, err, secrets): turns a Check failure into the
//     message an admin reads ("authentication failed: check ...").
//   - redact(s, secrets): replaces secret values in s with ****.
//
// Global flags may appear anywhere on the line and a command's flags may
// follow its arguments (reorderArgs), e.g. `datasync connection add crm
// --plugin sqlite`.
package cli
