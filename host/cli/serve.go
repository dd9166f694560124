package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/datasync-io/datasync/host/daemon"
	"github.com/datasync-io/datasync/host/daemon/api"
	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/sdk"
)

// daemonCommand is `datasync serve`; app.go picks it up by its name.
func (e *env) daemonCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "run active syncs on their schedules and serve the API, metrics and dashboard",
		UsageText: "datasync serve [--listen ADDR] [--default-every DURATION] [--concurrency N]",
		Description: `Runs every active sync on its schedule (sync create --every; --default-every
for syncs without one), never two runs of one sync at once, and serves the
HTTP API, /metrics and the dashboard on --listen. Every endpoint but /healthz
and /readyz needs the bearer token in $DATASYNC_HOME/api.token (created at
first start, mode 0600).

The dashboard is at the --listen address (it asks for the token once). A
connection whose credentials are refused, or that reaches another account,
holds its syncs with one error until "datasync connection test NAME" succeeds.
SIGTERM or SIGINT lets the batch in flight commit, stops the plugins and exits
0; SIGHUP reloads the sync definitions (they are also re-read every 30s).

With --state postgres://... several daemons (on several machines, each with
the same plugins and DATASYNC_MASTER_KEY) share the work: a run first takes
its sync's lease, so one daemon runs a sync at a time and a scheduled run is
made once, by whichever daemon is first; a daemon that stalls past its lease
(1 minute, renewed while it runs) has its later commits refused.

A scheduled sync whose source connector watches for changes (sqlite, carddav,
ldap; postgres with watch_channel set, see its README) also runs about a
second after each change its connector notices.

Examples:
   datasync serve
   datasync serve --listen 127.0.0.1:9000 --default-every 5m --log-format json --log-level info
   curl -H "Authorization: Bearer $(cat ~/.datasync/api.token)" localhost:7788/api/v1/syncs`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Usage: "`ADDR` of the HTTP API, metrics and dashboard", Value: "127.0.0.1:7788", EnvVars: []string{"DATASYNC_LISTEN"}},
			&cli.DurationFlag{Name: "default-every", Usage: "`DURATION` between runs of active syncs defined without --every; 0: they run only when asked", Value: 15 * time.Minute},
			&cli.IntFlag{Name: "concurrency", Usage: "runs of different syncs at once (`N`)", Value: 2},
			&cli.IntFlag{Name: "batch-size", Usage: "write ops per batch (and per commit)", Value: sdk.BatchRecords},
		},
		Action: e.serve,
	}
}

func (e *env) serve(c *cli.Context) error {
	ctx := c.Context
	if c.Int("concurrency") < 1 || c.Int("batch-size") < 1 || c.Duration("default-every") < 0 {
		return usageErrorf(c, "--concurrency and --batch-size must be at least 1, --default-every 0 or more")
	}
	log := e.log.Named("serve")
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	token, err := api.LoadToken(e.home)
	if err != nil {
		return err
	}
	metrics := api.NewMetrics()
	every := c.Duration("default-every")
	if every == 0 {
		every = -1
	}
	open := func(ctx context.Context, name string) (engine.Conn, func(), error) {
		conn, _, closeFn, err := e.openConnection(ctx, name)
		return conn, closeFn, err
	}
	e.plugins() // created once, before runs share it
	runner := daemon.NewEngineRunner(st, open, engine.WithBatchSize(c.Int("batch-size")))
	o := daemon.Options{DefaultEvery: every, Concurrency: c.Int("concurrency"),
		OnRun: metrics.ObserveRun, OnNotice: metrics.ObserveNotice, Watch: e.watchConnection}
	// Every run takes its sync's lease: one process runs a sync at a time
	// (this daemon, `datasync sync run`, and with a shared PostgreSQL state
	// the other daemons, which share the schedule too).
	o.Leases, o.Shared = st, e.state != ""
	if o.Shared {
		log.Info("state shared in PostgreSQL: runs take their sync's lease", "holder", daemon.Holder())
	}
	sched := daemon.New(st, runner, log, o)
	if err := sched.Load(ctx); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.String("listen"), err)
	}
	srv := &http.Server{Handler: api.New(st, sched, token, metrics, log.Named("api")).Handler(),
		ReadHeaderTimeout: 10 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	log.Info("serving", "listen", ln.Addr().String(), "token_file", api.TokenPath(e.home))
	fmt.Fprintf(e.stderr, "datasync serve: listening on http://%s (token in %s)\n", ln.Addr(), api.TokenPath(e.home))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	schedDone := make(chan error, 1)
	go func() { schedDone <- sched.Run(ctx) }()
	for {
		select {
		case <-hup:
			if err := sched.Load(ctx); err != nil {
				log.Error("reload of sync definitions failed", "error", err)
			} else {
				log.Info("sync definitions reloaded")
			}
			continue
		case err := <-srvErr:
			return fmt.Errorf("http server: %w", err)
		case <-schedDone:
		}
		break
	}
	// Runs in flight have committed their last batch: stop serving, then
	// the plugins (env.shutdown).
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "error", err)
	}
	e.plugins().Shutdown()
	return nil
}

// watchConnection watches object on a stored connection through its plugin
// (launched for as long as the watch lasts), when the installed plugin
// advertises the watch capability.
func (e *env) watchConnection(ctx context.Context, connection, object string, sink sdk.WatchSink) error {
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	cn, err := st.Connection(ctx, connection)
	st.Close()
	if err != nil {
		return connectionError(connection, err)
	}
	man, err := e.plugins().Info(cn.Plugin)
	if err != nil {
		return err
	}
	if !slices.Contains(man.Capabilities, sdk.CapabilityWatch) {
		return daemon.ErrCannotWatch
	}
	conn, _, closeFn, err := e.openConnection(ctx, connection)
	if err != nil {
		return err
	}
	defer closeFn()
	w, ok := conn.(sdk.Watcher)
	if !ok {
		return daemon.ErrCannotWatch
	}
	return w.Watch(ctx, []string{object}, sink)
}
