// Command rampart is the security perimeter for machine-learning and AI
// systems. main only wires signals and the exit code; internal/cli does the
// rest so it can be tested without a process.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rampart-ai/rampart/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.ExitCode(err, os.Stderr))
}
