// Command upstreams runs one of the demo's real model servers in the
// foreground until interrupted:
//
//	go run ./examples/demo/upstreams -kind oip    -addr 127.0.0.1:8500
//	go run ./examples/demo/upstreams -kind openai -addr 127.0.0.1:8600 -api-key sk-upstream
//
// "oip" is the breast-cancer logistic regression over Open Inference
// Protocol v2 (internal/modelserver); "openai" is the bigram language model
// and hashed embeddings behind an OpenAI-compatible API
// (internal/modelserver/openaisrv). Either prints "READY port=N" once it
// listens. Exit codes: 0 after an interrupt, 1 on a runtime error, 2 on bad
// flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rampart-ai/rampart/internal/modelserver"
	"github.com/rampart-ai/rampart/internal/modelserver/openaisrv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "upstreams:", err)
		os.Exit(2)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "upstreams:", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("upstreams", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", "oip", `server to run: "oip" or "openai"`)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (port 0 picks a free one)")
	models := fs.String("models", "", "comma-separated model names (default: the server's defaults)")
	apiKey := fs.String("api-key", "", "openai: bearer key clients must send (default: none; also $UPSTREAM_API_KEY)")
	delay := fs.Duration("chunk-delay", 15*time.Millisecond, "openai: pause between streamed chunks")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	var names []string
	if *models != "" {
		names = strings.Split(*models, ",")
	}
	if *apiKey == "" {
		*apiKey = os.Getenv("UPSTREAM_API_KEY")
	}
	var h http.Handler
	var err error
	switch *kind {
	case "oip":
		h, err = modelserver.New(modelserver.Options{Models: names})
	case "openai":
		if *delay == 0 {
			*delay = -1 // openaisrv reads 0 as "default"
		}
		h, err = openaisrv.New(openaisrv.Options{ChatModels: names, APIKey: *apiKey, ChunkDelay: *delay})
	default:
		return usageError{fmt.Errorf("unknown -kind %q (want oip or openai)", *kind)}
	}
	if err != nil {
		return usageError{err}
	}
	return modelserver.ListenAndAnnounce(ctx, *addr, h, stdout)
}
