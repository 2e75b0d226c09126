package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-ai/rampart/internal/audit"
)

func newAuditCmd(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "audit",
		Short: "Verify, tail and export the tamper-evident audit log",
		Long: `Every gateway decision, allowed or not, is one record in the audit log: a
Merkle tree (RFC 6962) in SQLite whose every commit carries an Ed25519-signed
checkpoint. These commands read the log directory (audit.dir in rampart.yaml)
and never write to it, so they are safe to run while the gateway is serving.

To detect rollback and history rewrites, save a checkpoint somewhere the
gateway host cannot write (a ticket, a bucket, another machine) and pass it
back on the next verification.`,
		Example: `  rampart audit verify --dir /var/lib/rampart/audit --save-checkpoint cp.note
  rampart audit verify --dir /var/lib/rampart/audit --checkpoint cp.note
  rampart audit tail --dir /var/lib/rampart/audit -n 50 --follow
  rampart audit export --dir /var/lib/rampart/audit --from 1000 -o audit.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return Usage("audit needs a subcommand: verify, tail or export (see rampart audit --help)")
		},
	}
	c.AddCommand(newAuditVerifyCmd(env), newAuditTailCmd(env), newAuditExportCmd(env))
	return c
}

func newAuditVerifyCmd(env *Env) *cobra.Command {
	var dir, trustedPath, savePath, keyPath, format string
	c := &cobra.Command{
		Use:   "verify --dir DIR",
		Short: "Check every record and checkpoint; prove consistency with a saved checkpoint",
		Long: `Recompute every leaf hash and tree root from the stored records and check
every stored checkpoint's signature and root. Reports edited, deleted,
reordered and out-of-band records.

With --checkpoint FILE (a checkpoint saved earlier with --save-checkpoint) it
also proves the log still extends that checkpoint: a rolled-back, truncated or
rewritten log fails. With --key FILE the verifier key is read from FILE
instead of DIR/checkpoint.pub, so a log re-signed under a new key fails too.
Keep both files off the gateway host.

--save-checkpoint writes the newest checkpoint only when verification passes;
it may name the same file as --checkpoint.

Exit status: 0 the log verifies; 1 evidence of tampering; 2 the check could
not run (missing directory, unreadable files, bad flags).`,
		Example: `  rampart audit verify --dir rampart-audit
  rampart audit verify --dir rampart-audit --checkpoint /mnt/safe/audit.cp --save-checkpoint /mnt/safe/audit.cp
  rampart audit verify --dir rampart-audit --key /mnt/safe/checkpoint.pub --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return Usage("--dir is required")
			}
			if format != "table" && format != "json" {
				return Usage("--format %q: want table or json", format)
			}
			var opt audit.VerifyOptions
			if trustedPath != "" {
				b, err := auditReadSmall(trustedPath)
				if err != nil {
					return Usage("--checkpoint: %v", err)
				}
				opt.Trusted = b
			}
			if keyPath != "" {
				b, err := auditReadSmall(keyPath)
				if err != nil {
					return Usage("--key: %v", err)
				}
				opt.VerifierKey = string(b)
			}
			rep, err := audit.VerifyWith(cmd.Context(), dir, opt)
			if err != nil {
				return Usage("%v", err)
			}
			if format == "json" {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(struct {
					*audit.VerifyReport
					OK bool `json:"ok"`
				}{rep, rep.OK()}); err != nil {
					return err
				}
			} else {
				auditWriteVerifyTable(env.Stdout, rep)
			}
			if !rep.OK() {
				return Findings("audit log %s failed verification: %d problem(s)", dir, len(rep.Problems))
			}
			if savePath != "" {
				if rep.Newest == nil {
					fmt.Fprintln(env.Stderr, "rampart: log is empty; no checkpoint to save")
					return nil
				}
				if err := auditWriteAtomic(savePath, rep.Newest, 0o644); err != nil {
					return Usage("--save-checkpoint: %v", err)
				}
				fmt.Fprintf(env.Stderr, "saved checkpoint for %d records to %s\n", rep.NewestCheckpoint, savePath)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "dir", "", "audit log directory (audit.dir in rampart.yaml)")
	f.StringVar(&trustedPath, "checkpoint", "", "checkpoint saved earlier; the log must extend it")
	f.StringVar(&savePath, "save-checkpoint", "", "write the newest checkpoint here when the log verifies")
	f.StringVar(&keyPath, "key", "", "verifier key file to use instead of DIR/checkpoint.pub")
	f.StringVar(&format, "format", "table", "output format: table or json")
	return c
}

func auditWriteVerifyTable(w io.Writer, rep *audit.VerifyReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "log\t%s\n", rep.Dir)
	fmt.Fprintf(tw, "origin\t%s\n", rep.Origin)
	fmt.Fprintf(tw, "records\t%d\n", rep.Size)
	fmt.Fprintf(tw, "root\t%s\n", rep.RootHash)
	fmt.Fprintf(tw, "checkpoints\t%d checked, newest covers %d records\n", rep.Checkpoints, rep.NewestCheckpoint)
	if rep.TrustedSize >= 0 {
		fmt.Fprintf(tw, "trusted\tcheckpoint at size %d\n", rep.TrustedSize)
	} else {
		fmt.Fprintf(tw, "trusted\tnone (pass --checkpoint to detect rollback and rewrites)\n")
	}
	if rep.OK() {
		fmt.Fprintf(tw, "result\tOK\n")
	} else {
		fmt.Fprintf(tw, "result\tFAILED (%d problems)\n", len(rep.Problems))
	}
	tw.Flush()
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
}

func newAuditTailCmd(env *Env) *cobra.Command {
	var (
		dir    string
		n      int64
		follow bool
		every  time.Duration
	)
	c := &cobra.Command{
		Use:   "tail --dir DIR",
		Short: "Print the newest records as JSON Lines",
		Long: `Print the last N records as JSON Lines, one record per line, exactly as they
were hashed into the log. With --follow keep printing new records as they are
committed until interrupted.`,
		Example: `  rampart audit tail --dir rampart-audit
  rampart audit tail --dir rampart-audit -n 100 --follow | jq 'select(.decision == "block")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return Usage("--dir is required")
			}
			if n < 0 {
				return Usage("-n %d: must not be negative", n)
			}
			r, err := audit.OpenReader(dir)
			if err != nil {
				return Usage("%v", err)
			}
			defer r.Close()
			ctx := cmd.Context()
			next, err := r.Tail(ctx, n, env.Stdout)
			if err != nil {
				return err
			}
			if !follow {
				return nil
			}
			return auditFollow(ctx, r, next, every, env.Stdout)
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "dir", "", "audit log directory (audit.dir in rampart.yaml)")
	f.Int64VarP(&n, "lines", "n", 20, "number of records to print")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new records")
	f.DurationVar(&every, "poll", 500*time.Millisecond, "how often --follow checks for new records")
	return c
}

// auditFollow polls for new records until ctx ends, which is a normal
// way to stop following, not an error.
func auditFollow(ctx context.Context, r *audit.Reader, next int64, every time.Duration, w io.Writer) error {
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n, err := r.Export(ctx, next, w)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		next = n
	}
}

func newAuditExportCmd(env *Env) *cobra.Command {
	var (
		dir, out string
		from     int64
	)
	c := &cobra.Command{
		Use:   "export --dir DIR",
		Short: "Write records as JSON Lines for a SIEM",
		Long: `Write every record with seq >= --from as JSON Lines (one record per line, the
exact bytes hashed into the log) to stdout or to -o FILE. The output file is
created with mode 0600 because records can hold opted-in payloads. Prints the
seq to resume from on stderr, so scheduled exports can pick up where the last
one stopped.`,
		Example: `  rampart audit export --dir rampart-audit > audit.jsonl
  rampart audit export --dir rampart-audit --from 52000 -o /var/spool/siem/rampart.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return Usage("--dir is required")
			}
			if from < 0 {
				return Usage("--from %d: must not be negative", from)
			}
			r, err := audit.OpenReader(dir)
			if err != nil {
				return Usage("%v", err)
			}
			defer r.Close()
			if out == "" || out == "-" {
				next, err := r.Export(cmd.Context(), from, env.Stdout)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stderr, "next seq: %d\n", next)
				return nil
			}
			tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
			if err != nil {
				return Usage("-o: %v", err)
			}
			defer os.Remove(tmp.Name())
			next, err := r.Export(cmd.Context(), from, tmp)
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(tmp.Name(), out)
			}
			if err != nil {
				return fmt.Errorf("export to %s: %w", out, err)
			}
			fmt.Fprintf(env.Stderr, "exported %d records to %s; next seq: %d\n", max(next-from, 0), out, next)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dir, "dir", "", "audit log directory (audit.dir in rampart.yaml)")
	f.Int64Var(&from, "from", 0, "first seq to export")
	f.StringVarP(&out, "output", "o", "", "output file (default stdout)")
	return c
}

// auditMaxSmall bounds key and checkpoint files, which are a few hundred bytes.
const auditMaxSmall = 64 << 10

func auditReadSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, auditMaxSmall+1))
	if err != nil {
		return nil, err
	}
	if len(b) > auditMaxSmall {
		return nil, errors.New("file too large")
	}
	return b, nil
}

// auditWriteAtomic replaces path so a crash never leaves half a checkpoint.
func auditWriteAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
