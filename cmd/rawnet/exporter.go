package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/urfave/cli/v2"

	"github.com/rawnet/rawnet/exporter"
	"github.com/rawnet/rawnet/internal/priv"
)

func exporterCommand() *cli.Command {
	return &cli.Command{
		Name:      "exporter",
		Usage:     "probe continuously and serve the results to Prometheus (ICMP targets, traces, /probe)",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"config.file"}, Usage: "read the probe groups from YAML `FILE` (required)"},
			&cli.BoolFlag{Name: "config.check", Usage: "check the configuration file (and --web.config.file) and exit: 0 good, 2 bad"},
			&cli.StringSliceFlag{Name: "web.listen-address", Value: cli.NewStringSlice(exporter.DefaultListenAddress), Usage: "listen on `ADDR` (repeat for several)"},
			&cli.StringFlag{Name: "web.config.file", Usage: "TLS and basic authentication from exporter-toolkit web configuration `FILE`"},
			&cli.StringFlag{Name: "web.telemetry-path", Value: "/metrics", Usage: "serve the metrics at `PATH`"},
			&cli.StringFlag{Name: "log.level", Value: "info", Usage: "log `LEVEL`: debug, info, warn or error (logs go to stderr)"},
		},
		Action: runExporter,
	}
}

// exporterOptions is what the exporter command reads from its flags.
type exporterOptions struct {
	config    string
	check     bool
	listen    []string
	webConfig string
	telemetry string
	level     slog.Level
}

func exporterFlags(c *cli.Context) (exporterOptions, error) {
	o := exporterOptions{config: c.String("config"), check: c.Bool("config.check"), listen: c.StringSlice("web.listen-address"),
		webConfig: c.String("web.config.file"), telemetry: c.String("web.telemetry-path")}
	if c.NArg() > 0 {
		return o, usageErrorf("exporter takes no arguments (got %q): the targets are in --config FILE", c.Args().First())
	}
	if o.config == "" {
		return o, usageErrorf("--config: missing: give the YAML file of probe groups")
	}
	if !strings.HasPrefix(o.telemetry, "/") {
		return o, usageErrorf("--web.telemetry-path %q: must start with /", o.telemetry)
	}
	if len(o.listen) == 0 {
		return o, usageErrorf("--web.listen-address: give at least one address")
	}
	if err := o.level.UnmarshalText([]byte(c.String("log.level"))); err != nil {
		return o, usageErrorf("--log.level %q: not one of debug, info, warn or error", c.String("log.level"))
	}
	return o, nil
}

func runExporter(c *cli.Context) error {
	o, err := exporterFlags(c)
	if err != nil {
		return err
	}
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	if o.check {
		return checkExporterConfig(o, stdout)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.level}))
	if o.webConfig != "" {
		if err := web.Validate(o.webConfig); err != nil {
			return usageErrorf("--web.config.file %s: %v", o.webConfig, oneLine(err))
		}
	}
	e := exporter.New(exporter.Options{ConfigFile: o.config, Logger: logger, Version: version})
	if err := e.Start(); err != nil {
		return exporterStartError(err)
	}
	handler, err := e.Handler(exporter.HandlerOptions{TelemetryPath: o.telemetry, Version: version})
	if err != nil {
		return usageErrorf("%v", err)
	}
	// Listen before dropping capabilities: a port below 1024 needs
	// CAP_NET_BIND_SERVICE.
	listeners, err := listenAll(o.listen)
	if err != nil {
		_ = e.Env().Sockets.Close()
		return err
	}
	dropPrivileges(stderr, o.level <= slog.LevelDebug)
	return serveExporter(c.Context, e, handler, listeners, o, logger)
}

// serveExporter runs the probes and the web server until ctx ends
// (SIGTERM, Ctrl-C), reloading on SIGHUP.
func serveExporter(ctx context.Context, e *exporter.Exporter, handler http.Handler, listeners []net.Listener, o exporterOptions, logger *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.Run(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				_ = e.Reload() // logged; the reload gauge says it failed
			case <-ctx.Done():
				return
			}
		}
	}()
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	flags := &web.FlagConfig{WebListenAddresses: &o.listen, WebSystemdSocket: new(bool), WebConfigFile: &o.webConfig}
	served := make(chan error, 1)
	go func() { served <- web.ServeMultiple(listeners, srv, flags, logger) }()
	for _, l := range listeners {
		logger.Info("listening", "address", l.Addr().String(), "config", o.config)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		cancel()
	}
	shutdown, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	_ = srv.Shutdown(shutdown)
	e.Wait()
	logger.Info("stopped")
	if err != nil {
		return fmt.Errorf("exporter: %w", err)
	}
	return nil
}

func listenAll(addrs []string) ([]net.Listener, error) {
	var ls []net.Listener
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			return nil, usageErrorf("--web.listen-address %s: %v", a, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// checkExporterConfig is --config.check: the file (and the web
// configuration) parsed and checked, nothing opened.
func checkExporterConfig(o exporterOptions, stdout io.Writer) error {
	cfg, err := exporter.LoadConfig(o.config)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if o.webConfig != "" {
		if err := web.Validate(o.webConfig); err != nil {
			return usageErrorf("--web.config.file %s: %v", o.webConfig, oneLine(err))
		}
	}
	fmt.Fprintf(stdout, "%s: OK: %d target groups, %d trace groups, %d modules\n", o.config, len(cfg.Targets), len(cfg.Traces), len(cfg.Modules))
	return nil
}

// exporterStartError: a bad file is bad input (exit 2, one line); a
// socket that would not open says which privilege it needed.
func exporterStartError(err error) error {
	var ce *exporter.ConfigError
	if errors.As(err, &ce) {
		return usageErrorf("%s", oneLine(err))
	}
	return priv.HintICMP(err)
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
}
