// Package cli builds the rampart command tree. Every command writes to the
// streams it is given and returns an error; [ExitCode] turns that error into
// the documented exit status:
//
//	0  success, nothing found
//	1  findings: a verification failed, a test case mismatched, a scan found something
//	2  usage, configuration or input error
//
// Commands are listed explicitly in [commands]; there is no init() registry.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-ai/rampart/internal/report"
)

// Env is what every command receives.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// ExitError carries an exit status. Findings use status 1; usage errors 2.
type ExitError struct {
	Status int
	Err    error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Status)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// Findings returns an error that exits with status 1 and prints msg.
func Findings(format string, args ...any) error {
	return &ExitError{Status: 1, Err: fmt.Errorf(format, args...)}
}

// Usage returns an error that exits with status 2.
func Usage(format string, args ...any) error {
	return &ExitError{Status: 2, Err: fmt.Errorf(format, args...)}
}

// ExitCode reports err on w and returns the process exit status.
func ExitCode(err error, w io.Writer) int {
	if err == nil {
		return 0
	}
	// Messages carry file names and text from inputs: print them safe
	// for a terminal.
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(w, "rampart:", safeText(ee.Err.Error()))
		}
		return ee.Status
	}
	fmt.Fprintln(w, "rampart:", safeText(err.Error()))
	return 2
}

// safeText escapes control characters line by line, keeping the line
// breaks of multi-line messages (errors.Join).
func safeText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = report.Sanitize(l)
	}
	return strings.Join(lines, "\n")
}

// commands is the explicit table of top-level commands.
var commands = []func(*Env) *cobra.Command{
	newDemoCmd,
	newServeCmd,
	newKeysCmd,
	newPolicyCmd,
	newAuditCmd,
	newScanCmd,
	newSignCmd,
	newVerifyCmd,
	newDataCmd,
	newUpstreamCmd,
}

// Run executes the command line args.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	root := &cobra.Command{
		Use:   "rampart",
		Short: "The security perimeter for machine-learning and AI systems",
		Long: `Rampart puts authentication, least-privilege authorization, input validation,
rate limiting and a tamper-evident audit log in front of model servers.

Start with "rampart demo" for a guided tour.

Exit status: 0 success; 1 findings (failed verification, mismatched test
cases); 2 usage, configuration or input errors.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return Usage("%v (see %s --help)", err, c.CommandPath()) })
	for _, mk := range commands {
		root.AddCommand(mk(env))
	}
	err := root.ExecuteContext(ctx)
	if err != nil {
		var ee *ExitError
		if !errors.As(err, &ee) && isUsageErr(err) {
			return &ExitError{Status: 2, Err: err}
		}
	}
	return err
}

func isUsageErr(err error) bool {
	// cobra reports unknown commands, flags and bad argument counts as plain errors.
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
