package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
	"github.com/rampart-ai/rampart/internal/modelscan/all"
	"github.com/rampart-ai/rampart/internal/report"
)

// Progress is shown on a terminal only for inputs at least this large (or
// this many files); --progress shows it regardless.
const (
	scanProgressBytes = 64 << 20
	scanProgressFiles = 50
)

func newScanCmd(env *Env) *cobra.Command { return newScanCmdWith(env, all.Analyzers) }

// newScanCmdWith builds the command over the given analyzer table, so
// tests can add an analyzer of their own next to the real ones.
func newScanCmdWith(env *Env, analyzers func() []modelscan.Analyzer) *cobra.Command {
	var (
		format, output, policyPath string
		maxBytes                   = sizeValue(modelscan.DefaultLimits().MaxBytes)
		timeout                    time.Duration
		workers                    int
		digest                     bool
		progress                   bool
	)
	c := &cobra.Command{
		Use:   "scan PATH...",
		Short: "Judge model files for code they would run when loaded",
		Long: `Scan model files, directories and archives for content that runs code, reads
files or reaches the network when a model server loads it: pickle callables
(PyTorch, joblib, NumPy object arrays, plain .pkl), zip tricks, and format
structure that does not add up.

Formats are recognised by content, never by file name. Directories are
walked completely: nothing is skipped silently. A symbolic link inside a
directory is reported, never followed out of the tree; one named on the
command line is followed.

Each file gets one verdict, the worst of its findings:

  CLEAN        nothing that runs code; every construct is on an allowlist
  SUSPICIOUS   something not on an allowlist and not known to be dangerous
  UNSCANNABLE  could not be parsed completely (truncated, corrupt, encrypted,
               over budget, unknown format): not known to be safe
  UNSAFE       a construct known to run code, touch files or the network

--policy FILE extends the allowlist with a team's own classes (YAML:
"allow: [mylib.layers.Custom, mylib.blocks.*]"); it can never allow a
callable that is known to be dangerous.

Output is a table (default), one JSON object (--format json) or SARIF 2.1.0
for code-scanning tools (--format sarif), on stdout or in the file -o names.
A progress bar goes to stderr when stderr is a terminal and the input is
large, or always with --progress; never to stdout.

Exit status:
  0  every file is CLEAN
  1  at least one file is SUSPICIOUS, UNSCANNABLE or UNSAFE
  2  usage error, bad policy, a path that does not exist or cannot be read,
     or nothing to scan (the report still lists every file that was judged)`,
		Example: `  rampart scan model.pt
  rampart scan ./checkpoints --workers 8
  rampart scan --format sarif -o rampart.sarif ./models
  rampart scan --policy team-allowlist.yaml --format json pytorch_model.bin
  rampart scan --max-bytes 200GiB --timeout 30m --progress huge-checkpoint/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := report.ParseFormat(format)
			if err != nil {
				return Usage("--format: %v", err)
			}
			if workers < 1 {
				return Usage("--workers %d: must be at least 1", workers)
			}
			if timeout < 0 {
				return Usage("--timeout %s: must not be negative", timeout)
			}
			if maxBytes <= 0 {
				return Usage("--max-bytes: must be positive")
			}
			var policy *modelscan.Policy
			if policyPath != "" {
				if policy, err = modelscan.LoadPolicy(policyPath); err != nil {
					return Usage("--policy: %v", err)
				}
			}
			limits := modelscan.DefaultLimits()
			limits.MaxBytes = int64(maxBytes)
			limits.Timeout = timeout
			eng := modelscan.New(limits, policy, analyzers()...)

			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			items, walkErrs := scanCollect(args)
			var total int64
			for _, it := range items {
				total += it.size
			}
			var bar *progressbar.ProgressBar
			if progress || (report.IsTerminal(env.Stderr) && (total >= scanProgressBytes || len(items) >= scanProgressFiles)) {
				bar = progressbar.NewOptions64(total,
					progressbar.OptionSetWriter(env.Stderr),
					progressbar.OptionSetDescription("scanning"),
					progressbar.OptionShowBytes(true),
					progressbar.OptionShowCount(),
					progressbar.OptionSetWidth(30),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionClearOnFinish(),
					progressbar.OptionSetRenderBlankState(true),
				)
			}
			results, scanErrs := scanRun(ctx, eng, items, workers, bar, digest)
			if bar != nil {
				_ = bar.Finish()
			}

			rep := &report.Report{Tool: report.DefaultTool(), Errors: append(walkErrs, scanErrs...)}
			for _, r := range results {
				if r != nil {
					rep.Results = append(rep.Results, *r)
				}
			}
			if err := scanWrite(env, output, f, rep); err != nil {
				return err
			}
			sum := rep.Summarize()
			tableOnStdout := f == report.FormatTable && output == ""
			// Errors go to stderr whatever the format, for scripts and logs
			// that keep only stderr; the report lists them as well.
			for _, e := range rep.Errors {
				fmt.Fprintf(env.Stderr, "rampart: %s: %s\n", report.Sanitize(e.Path), report.Sanitize(e.Error))
			}
			switch {
			case len(rep.Errors) > 0:
				return &ExitError{Status: 2, Err: fmt.Errorf("%d path(s) could not be scanned; %s", len(rep.Errors), sum)}
			case len(rep.Results) == 0:
				return Usage("nothing to scan: %s holds no files", strings.Join(args, ", "))
			case sum.Verdict != modelscan.Clean:
				if tableOnStdout {
					return &ExitError{Status: 1} // the table already ends with the summary
				}
				return Findings("%s", sum)
			}
			if !tableOnStdout {
				fmt.Fprintln(env.Stderr, sum)
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&format, "format", "table", "output format: table, json or sarif")
	fl.StringVarP(&output, "output", "o", "", "write the report to FILE instead of stdout")
	fl.StringVar(&policyPath, "policy", "", "YAML policy file that extends the allowlist (allow: [module.name, module.*])")
	fl.Var(&maxBytes, "max-bytes", "most bytes read per file, archive members and decompressed data included (e.g. 64GiB)")
	fl.DurationVar(&timeout, "timeout", modelscan.DefaultLimits().Timeout, "time limit per file; a file over it is UNSCANNABLE (0: none)")
	fl.BoolVar(&digest, "digest", true, "record each file's SHA-256 in the results, tying each verdict to exact bytes")
	fl.IntVar(&workers, "workers", min(runtime.GOMAXPROCS(0), 8), "files scanned in parallel (results keep input order)")
	fl.BoolVar(&progress, "progress", false, "show a progress bar on stderr even when it is not a terminal")
	return c
}

// scanItem is one thing to report on, in input order. A regular file is
// scanned; anything else carries its verdict already.
type scanItem struct {
	path   string
	size   int64
	result *modelscan.Result // set for links and special files
}

// scanCollect expands args into items in input order, directories walked
// in lexical order. Paths that cannot be read are errors.
func scanCollect(args []string) ([]scanItem, []report.FileError) {
	var items []scanItem
	var errs []report.FileError
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			errs = append(errs, report.FileError{Path: arg, Error: scanErrText(err)})
			continue
		}
		if !st.IsDir() {
			items = append(items, scanFileItem(arg, st))
			continue
		}
		root, err := filepath.EvalSymlinks(arg)
		if err != nil {
			errs = append(errs, report.FileError{Path: arg, Error: scanErrText(err)})
			continue
		}
		root, _ = filepath.Abs(root)
		walkRoot := arg
		if lst, err := os.Lstat(arg); err == nil && lst.Mode()&fs.ModeSymlink != 0 {
			// A link named on the command line is followed; WalkDir would
			// report the link itself without the trailing separator.
			walkRoot = arg + string(filepath.Separator)
		}
		err = filepath.WalkDir(walkRoot, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, report.FileError{Path: path, Error: scanErrText(err)})
				return nil // WalkDir then skips that directory and carries on
			}
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				items = append(items, scanSymlinkItem(path, root))
			case d.IsDir():
			default:
				st, err := d.Info()
				if err != nil {
					errs = append(errs, report.FileError{Path: path, Error: scanErrText(err)})
					return nil
				}
				items = append(items, scanFileItem(path, st))
			}
			return nil
		})
		if err != nil {
			errs = append(errs, report.FileError{Path: arg, Error: scanErrText(err)})
		}
	}
	return items, errs
}

func scanFileItem(path string, st fs.FileInfo) scanItem {
	if st.Mode().IsRegular() {
		return scanItem{path: path, size: st.Size()}
	}
	// Opening a FIFO or a device could block or never end; a loader that
	// reads one reads something this scan cannot vouch for.
	return scanItem{path: path, result: scanVerdict(path, "special", st.Size(), modelscan.Unscannable,
		rampart.SeverityMedium, "scan.not-regular", fmt.Sprintf("not a regular file (%s): not scanned", st.Mode().Type()))}
}

// scanSymlinkItem reports a link met while walking root. A link that
// resolves inside root is covered by the walk, which scans its target under
// its own name; one that leaves the tree or dangles is not followed, and
// what it points at has not been judged.
func scanSymlinkItem(path, root string) scanItem {
	dest, _ := os.Readlink(path)
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return scanItem{path: path, result: scanVerdict(path, "symlink", 0, modelscan.Unscannable, rampart.SeverityMedium,
			"scan.symlink-dangling", fmt.Sprintf("symbolic link to %q does not resolve: not followed", dest))}
	}
	target, _ = filepath.Abs(target)
	if rel, err := filepath.Rel(root, target); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return scanItem{path: path, result: scanVerdict(path, "symlink", 0, modelscan.Clean, rampart.SeverityInfo,
			"scan.symlink", fmt.Sprintf("symbolic link to %q inside the scanned tree: its target is scanned under its own name", dest))}
	}
	return scanItem{path: path, result: scanVerdict(path, "symlink", 0, modelscan.Unscannable, rampart.SeverityMedium,
		"scan.symlink-outside", fmt.Sprintf("symbolic link to %q leaves the scanned tree: not followed; scan its target directly", dest))}
}

func scanVerdict(path, format string, size int64, v modelscan.Verdict, sev rampart.Severity, rule, msg string) *modelscan.Result {
	fs := []modelscan.Finding{{Verdict: v, Severity: sev, Rule: rule, Message: msg, Offset: -1}}
	return &modelscan.Result{Path: path, Format: format, Size: size, Verdict: modelscan.Worst(fs), Findings: fs}
}

// scanRun scans items on workers goroutines; results[i] belongs to
// items[i], nil where that file could not be read (its error is in errs,
// also in input order).
func scanRun(ctx context.Context, eng *modelscan.Engine, items []scanItem, workers int, bar *progressbar.ProgressBar, digest bool) ([]*modelscan.Result, []report.FileError) {
	results := make([]*modelscan.Result, len(items))
	errs := make([]error, len(items))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, max(len(items), 1)) {
		wg.Go(func() {
			for i := range next {
				it := items[i]
				if err := ctx.Err(); err != nil {
					// Interrupted while this one waited for a worker.
					errs[i] = fmt.Errorf("not scanned: %w", context.Cause(ctx))
					continue
				}
				if it.result != nil {
					results[i] = it.result
					continue
				}
				r, err := scanOne(ctx, eng, it, bar, digest)
				if err != nil {
					errs[i] = err
				} else {
					results[i] = &r
				}
			}
		})
	}
	for i := range items {
		if ctx.Err() == nil {
			select {
			case next <- i:
				continue
			case <-ctx.Done():
			}
		}
		errs[i] = fmt.Errorf("not scanned: %w", context.Cause(ctx))
	}
	close(next)
	wg.Wait()
	var out []report.FileError
	for i, err := range errs {
		if err != nil {
			out = append(out, report.FileError{Path: items[i].path, Error: scanErrText(err)})
		}
	}
	return results, out
}

// scanOne opens and judges one regular file.
func scanOne(ctx context.Context, eng *modelscan.Engine, it scanItem, bar *progressbar.ProgressBar, digest bool) (modelscan.Result, error) {
	f, err := os.Open(it.path)
	if err != nil {
		return modelscan.Result{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return modelscan.Result{}, err
	}
	if !st.Mode().IsRegular() {
		// Replaced by something else since the walk.
		return *scanFileItem(it.path, st).result, nil
	}
	var r io.ReaderAt = f
	var pr *progressReader
	if bar != nil {
		pr = &progressReader{r: f, bar: bar, size: st.Size()}
		r = pr
	}
	res, err := eng.Scan(ctx, it.path, r, st.Size())
	if err == nil && digest {
		h := sha256.New()
		buf := make([]byte, 1<<20)
		if _, herr := io.CopyBuffer(h, io.NewSectionReader(f, 0, st.Size()), buf); herr != nil {
			return res, herr
		}
		res.SHA256 = hex.EncodeToString(h.Sum(nil))
	}
	if pr != nil {
		// Count the bytes the analyzer had no need to read, and make up for
		// the size the walk saw if the file changed since.
		pr.bar.Add64(it.size - pr.done.Load())
	}
	return res, err
}

// progressReader advances the bar as the scan reaches further into the
// file. Analyzers read at random offsets, so progress is the furthest byte
// read so far, never more than the file's size.
type progressReader struct {
	r    io.ReaderAt
	bar  *progressbar.ProgressBar
	size int64
	done atomic.Int64
}

func (p *progressReader) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.r.ReadAt(b, off)
	end := min(off+int64(n), p.size)
	for {
		cur := p.done.Load()
		if end <= cur {
			break
		}
		if p.done.CompareAndSwap(cur, end) {
			p.bar.Add64(end - cur)
			break
		}
	}
	return n, err
}

// scanWrite renders the report to stdout, or atomically to the -o file.
func scanWrite(env *Env, output string, f report.Format, rep *report.Report) error {
	if output == "" {
		return report.Write(env.Stdout, f, rep, report.Options{Color: report.ColorFor(env.Stdout)})
	}
	dir := filepath.Dir(output)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(output)+".tmp-*")
	if err != nil {
		return Usage("-o: %v", err)
	}
	defer os.Remove(tmp.Name())
	if err := report.Write(tmp, f, rep, report.Options{}); err != nil {
		tmp.Close()
		return Usage("-o: %v", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return Usage("-o: %v", err)
	}
	if err := tmp.Close(); err != nil {
		return Usage("-o: %v", err)
	}
	if err := os.Rename(tmp.Name(), output); err != nil {
		return Usage("-o: %v", err)
	}
	return nil
}

// scanErrText is err without a repeated path prefix where Go's errors add one.
func scanErrText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// sizeValue is a byte count flag that takes 1048576, 1MiB, 1M, 1MB or 1G
// (binary multiples throughout: nobody means 10^9 when budgeting a scan).
type sizeValue int64

func (s *sizeValue) String() string { return formatSize(int64(*s)) }
func (s *sizeValue) Type() string   { return "size" }

func (s *sizeValue) Set(v string) error {
	t := strings.TrimSpace(v)
	mult := int64(1)
	upper := strings.ToUpper(t)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
		{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10},
		{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(upper, u.suffix) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("%q: want a positive byte count such as 1048576, 512MiB or 64GiB", v)
	}
	if n > (1<<63-1)/mult {
		return fmt.Errorf("%q: too large", v)
	}
	*s = sizeValue(n * mult)
	return nil
}

func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}
