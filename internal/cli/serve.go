package cli

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/rampart-ai/rampart/internal/config"
	"github.com/rampart-ai/rampart/internal/demo"
	"github.com/rampart-ai/rampart/internal/gateway"
	"github.com/rampart-ai/rampart/internal/modelserver"
	"github.com/rampart-ai/rampart/internal/modelserver/openaisrv"
	"github.com/rampart-ai/rampart/internal/telemetry"
)

func newServeCmd(env *Env) *cobra.Command {
	var cfgPath string
	var check bool
	c := &cobra.Command{
		Use:   "serve --config rampart.yaml",
		Short: "Run the gateway in front of model servers",
		Long: `Run the Rampart gateway: a reverse proxy in front of model servers that
authenticates every caller, authorizes every action on every model (deny by
default), validates and bounds inputs, rate limits, and writes every decision
to a tamper-evident audit log.

The config is strict: unknown keys and bad values are refused with the file,
the line and the reason. Send SIGHUP (or enable reload.watch) to reload; an
invalid new config is refused and the running one is kept. SIGINT/SIGTERM
drain in-flight requests and flush the audit log before exiting.

See docs/config.md for every setting.`,
		Example: `  rampart serve --config rampart.yaml
  rampart serve --config rampart.yaml --check   # validate and exit`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return Usage("--config is required")
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return Usage("%v", err)
			}
			if check {
				if err := gateway.Check(cfg); err != nil {
					return Usage("%v", err)
				}
				fmt.Fprintf(env.Stdout, "%s: ok (%d routes)\n", cfgPath, len(cfg.Routes))
				return nil
			}
			lv := new(slog.LevelVar)
			lv.Set(telemetry.ParseLevel(cfg.Log.Level))
			srv := gateway.New(gateway.Options{ConfigPath: cfgPath, Logger: telemetry.NewLogger(env.Stderr, lv), Level: lv})
			if err := srv.Run(cmd.Context()); err != nil {
				return &ExitError{Status: 2, Err: err}
			}
			return nil
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "path to rampart.yaml")
	c.Flags().BoolVar(&check, "check", false, "validate the config and exit")
	return c
}

func newDemoCmd(env *Env) *cobra.Command {
	var o demo.Options
	var verbose bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Guided tour: a real model behind the gateway, no setup",
		Long: `Start a real model (a breast-cancer classifier served over OIP v2 in pure
Go) and the gateway in front of it on loopback, with embedded defaults (an
SQLite audit log in a temporary folder, a freshly generated API key). Then
walk through an allowed request, a missing key, a forbidden model, a
malformed tensor, an oversized body and a rate-limited burst, and verify the
audit log. Exits 0 when every step behaved as described.

With --serve the gateway keeps running after the tour until Ctrl-C.`,
		Example: `  rampart demo
  rampart demo --serve --listen 127.0.0.1:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = env.Stdout
			if verbose {
				o.Log = env.Stderr
			}
			if err := demo.Run(cmd.Context(), o); err != nil {
				return Findings("demo: %v", err)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&o.Serve, "serve", false, "keep the gateway running after the tour")
	c.Flags().StringVar(&o.Listen, "listen", "", "gateway address (default 127.0.0.1, any free port)")
	c.Flags().StringVar(&o.Admin, "admin", "", "admin address for /metrics, /healthz, /readyz")
	c.Flags().StringVar(&o.Dir, "dir", "", "state folder (default: a temporary folder)")
	c.Flags().BoolVar(&o.Keep, "keep", false, "keep the state folder after the tour")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "print the gateway's JSON logs to stderr")
	return c
}

// newUpstreamCmd runs a real model server as its own process, for
// end-to-end tests and benchmarks.
func newUpstreamCmd(env *Env) *cobra.Command {
	var addr string
	c := &cobra.Command{
		Use:    "upstream oip|openai",
		Short:  "Run a built-in model server (demo classifier over OIP v2, or a small OpenAI-compatible language model)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			switch args[0] {
			case "oip":
				hh, e := modelserver.New(modelserver.Options{})
				if e != nil {
					return e
				}
				err = modelserver.ListenAndAnnounce(cmd.Context(), addr, hh, env.Stdout)
			case "openai":
				hh, e := openaisrv.New(openaisrv.Options{})
				if e != nil {
					return e
				}
				err = modelserver.ListenAndAnnounce(cmd.Context(), addr, hh, env.Stdout)
			default:
				return Usage("unknown upstream %q (want oip or openai)", args[0])
			}
			if err != nil && cmd.Context().Err() != nil {
				return nil
			}
			return err
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:0", "listen address")
	return c
}
