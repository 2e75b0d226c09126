package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/rampart-ai/rampart/internal/data"
	"github.com/rampart-ai/rampart/internal/dataguard"
	"github.com/rampart-ai/rampart/internal/report"
)

// dataFlags are the reader options every data command shares.
type dataFlags struct {
	format    string
	labelFile string
	inferRows int
	progress  bool
}

func (f *dataFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.format, "input-format", "", "read DATA as csv, tsv, jsonl, parquet, npy, npz or idx (default: detect from content and name)")
	c.Flags().StringVar(&f.labelFile, "label-file", "", "labels in a separate file, one per row (IDX or npy, as MNIST ships them); they become the column \"label\"")
	c.Flags().IntVar(&f.inferRows, "infer-rows", data.DefaultInferRows, "rows of a CSV/TSV/JSON Lines file sampled to infer column kinds")
	c.Flags().BoolVar(&f.progress, "progress", false, "show a progress bar even when stderr is not a terminal")
}

func (f *dataFlags) options() (data.Options, error) {
	switch f.format {
	case "", "csv", "tsv", "jsonl", "parquet", "npy", "npz", "idx":
	default:
		return data.Options{}, Usage("--input-format %q: want csv, tsv, jsonl, parquet, npy, npz or idx", f.format)
	}
	return data.Options{Format: f.format, LabelFile: f.labelFile, InferRows: f.inferRows}, nil
}

// setup checks --format and the reader flags and returns the reader
// options. A label file's values become the column "label", so with
// --label-file the label defaults to it.
func (f *dataFlags) setup(format string, label *string) (data.Options, error) {
	if err := outFormat(format); err != nil {
		return data.Options{}, err
	}
	if label != nil && *label == "" && f.labelFile != "" {
		*label = "label"
	}
	return f.options()
}

// rowProgress is a row counter on stderr (a terminal, or --progress).
type rowProgress struct{ bar *progressbar.ProgressBar }

func newRowProgress(env *Env, force bool, desc string) *rowProgress {
	if !force && !report.IsTerminal(env.Stderr) {
		return &rowProgress{}
	}
	return &rowProgress{bar: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(env.Stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSpinnerType(14),
	)}
}

func (p *rowProgress) set(rows int64) {
	if p.bar != nil {
		_ = p.bar.Set64(rows)
	}
}

func (p *rowProgress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// dataErr maps a reader or engine error to an exit status 2 error: bad
// input and bad profiles are input errors.
func dataErr(err error) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	return &ExitError{Status: 2, Err: err}
}

// outFormat checks --format.
func outFormat(f string) error {
	switch f {
	case "table", "json":
		return nil
	}
	return Usage("--format %q: want table or json", f)
}

// writeAtomic writes a file through a temporary file in the same
// directory, so a reader never sees half a file. An existing file keeps
// its permissions; a new one gets 0666 less the umask, as a plain create
// would. It refuses to replace any of inputs (a profile written over the
// only copy of the data it describes).
func writeAtomic(path string, inputs []string, write func(io.Writer) error) error {
	mode := os.FileMode(0o666) &^ umask()
	if st, err := os.Stat(path); err == nil {
		for _, in := range inputs {
			if ist, err := os.Stat(in); err == nil && os.SameFile(st, ist) {
				return fmt.Errorf("%s is also an input: refusing to overwrite it", path)
			}
		}
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newDataCmd(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "data",
		Short: "Profile, validate, compare and audit datasets",
		Long: `The data guard. Profile a trusted dataset once; validate new batches against
the profile, measure drift between datasets or profiles, and audit training
sets for poisoning (duplicates, conflicting labels, leakage, outliers, class
imbalance, label noise).

Readers: CSV and TSV (with a header), JSON Lines, Parquet, NumPy .npy/.npz
(numeric arrays; object arrays are refused, never unpickled) and IDX (the
MNIST family; .gz is read directly). Large files are streamed.

Exit status: 0 clean; 1 violations, drift or findings; 2 usage or input
errors (the message names the file, row and column or byte offset).

See docs/data.md for the profile format, the tests and their defaults.`,
	}
	c.AddCommand(newDataProfileCmd(env), newDataMergeCmd(env), newDataValidateCmd(env),
		newDataDriftCmd(env), newDataAuditCmd(env))
	return c
}

func newDataProfileCmd(env *Env) *cobra.Command {
	var (
		df                  dataFlags
		out, label, format  string
		includeDomain       bool
		maxCats, maxCov, kk int
		workers             int
	)
	c := &cobra.Command{
		Use:   "profile DATA... -o PROFILE",
		Short: "Summarise a trusted dataset into a shareable profile",
		Long: `Profile one dataset (several files with the same columns are profiled as one)
into a versioned JSON profile: the schema (names, kinds, nullability, ranges,
categorical domains as hashes, tensor shape) and mergeable statistics (counts,
nulls, moments, a KLL quantile sketch, distinct counts, frequent value hashes,
per-class counts, mean and covariance of the numeric features).

The profile holds no rows and no free-text values. Categorical values are
stored only as hashes unless --include-domain asks for them (columns with at
most --max-categories values). Label values (class names) are kept.

With -o the profile goes to the file and a summary table to stdout; without
it the profile JSON goes to stdout.`,
		Example: `  rampart data profile train.csv --label species -o train.profile.json
  rampart data profile fashion/train-images-idx3-ubyte.gz --label-file fashion/train-labels-idx1-ubyte.gz -o fashion.profile.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dopt, err := df.setup(format, &label)
			if err != nil {
				return err
			}
			prog := newRowProgress(env, df.progress, "profiling")
			p, err := dataguard.ProfileFiles(args, dopt, dataguard.ProfileOptions{
				Label: label, IncludeDomain: includeDomain, MaxCategories: maxCats,
				MaxCovColumns: maxCov, KLLK: kk, Workers: workers, Progress: prog.set})
			prog.done()
			if err != nil {
				return dataErr(err)
			}
			if out == "" {
				return dataguard.WriteProfile(env.Stdout, p)
			}
			if err := writeAtomic(out, append(slices.Clone(args), df.labelFile), func(w io.Writer) error { return dataguard.WriteProfile(w, p) }); err != nil {
				return Usage("-o: %v", err)
			}
			if format == "json" {
				return writeJSON(env.Stdout, map[string]any{"profile": out, "rows": p.Rows, "columns": len(p.Columns)})
			}
			return writeProfileTable(env.Stdout, p)
		},
	}
	df.register(c)
	c.Flags().StringVarP(&out, "output", "o", "", "write the profile to this file (default stdout)")
	c.Flags().StringVar(&label, "label", "", "the label column (per-class counts are kept for it)")
	c.Flags().StringVar(&format, "format", "table", "summary format with -o: table or json")
	c.Flags().BoolVar(&includeDomain, "include-domain", false, "store the values of low-cardinality categorical columns (not just their hashes)")
	c.Flags().IntVar(&maxCats, "max-categories", dataguard.DefaultMaxCategories, "a string column with at most this many distinct values is categorical")
	c.Flags().IntVar(&maxCov, "max-cov-columns", dataguard.DefaultMaxCovColumns, "keep mean and covariance only up to this many numeric columns")
	c.Flags().IntVar(&kk, "kll-k", 200, "KLL sketch size (rank error ≈ 1.65% at 200; larger is more precise)")
	c.Flags().IntVar(&workers, "workers", 0, "summarising goroutines (default: one per CPU)")
	return c
}

func writeProfileTable(w io.Writer, p *dataguard.Profile) error {
	fmt.Fprintf(w, "%d rows, %d columns", p.Rows, len(p.Columns))
	if p.Label != "" {
		fmt.Fprintf(w, ", label %q with %d classes", p.Label, len(p.Classes))
	}
	if len(p.Shape) > 0 {
		fmt.Fprintf(w, ", tensor shape %v", p.Shape)
	}
	fmt.Fprintln(w)
	g := report.Grid{Header: []string{"column", "kind", "count", "nulls", "distinct", "min", "median", "max", "mean", "std"},
		Right: []bool{false, false, true, true, true, true, true, true, true, true}}
	for _, c := range p.Columns {
		kind := string(c.Kind)
		if c.Categorical {
			kind += " (categorical)"
		}
		row := []string{c.Name, kind, strconv.FormatInt(c.Count, 10), strconv.FormatInt(c.Nulls+c.Invalid, 10),
			strconv.FormatUint(c.DistinctCount, 10), "", "", "", "", ""}
		if c.Numeric() && c.Min != nil {
			row[5], row[6], row[7] = num(*c.Min), num(c.Quantiles.Quantile(0.5)), num(*c.Max)
			row[8], row[9] = num(c.Moments.Mean), num(c.Moments.Std())
		}
		g.Rows = append(g.Rows, row)
	}
	if len(g.Rows) > 60 {
		// Wide tensors: the table would be hundreds of lines of pixels.
		n := len(g.Rows)
		g.Rows = append(g.Rows[:50], []string{fmt.Sprintf("… %d more columns (see the profile)", n-50)})
	}
	return report.WriteGrid(w, g, report.ColorFor(w))
}

func num(x float64) string { return strconv.FormatFloat(x, 'g', 5, 64) }

func newDataMergeCmd(env *Env) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "merge PROFILE... -o PROFILE",
		Short: "Combine profiles of shards into the profile of the whole",
		Long: `Merge profiles made from shards of one dataset (same columns, label and sketch
settings) into the profile of the whole, as if it had been profiled at once:
counts and moments add exactly, sketches merge within their stated error.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ps []*dataguard.Profile
			for _, a := range args {
				p, err := dataguard.LoadProfile(a)
				if err != nil {
					return dataErr(err)
				}
				ps = append(ps, p)
			}
			m, err := dataguard.MergeProfiles(ps)
			if err != nil {
				return dataErr(err)
			}
			if out == "" {
				return dataguard.WriteProfile(env.Stdout, m)
			}
			if err := writeAtomic(out, args, func(w io.Writer) error { return dataguard.WriteProfile(w, m) }); err != nil {
				return Usage("-o: %v", err)
			}
			fmt.Fprintf(env.Stdout, "merged %d profiles: %d rows, %d columns\n", len(ps), m.Rows, len(m.Columns))
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write the merged profile to this file (default stdout)")
	return c
}

func newDataValidateCmd(env *Env) *cobra.Command {
	var (
		df                          dataFlags
		profilePath, format, htmlTo string
		slack                       float64
	)
	c := &cobra.Command{
		Use:   "validate DATA... --profile PROFILE",
		Short: "Check new data against a profile (exit 1 on violations)",
		Long: `Check each dataset against a profile: missing or extra columns, tensor shape,
ragged rows, values of the wrong kind, missing values where the profile had
none, NaN and infinities, values outside the profile's range, and categories
the profile never saw. Each violation is counted, with the first example rows
(0-based data rows).

Exit status: 0 when every file conforms, 1 on any violation, 2 on input
errors.`,
		Example: `  rampart data validate batch-2026-12-01.csv --profile train.profile.json`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if profilePath == "" {
				return Usage("--profile is required")
			}
			dopt, err := df.setup(format, nil)
			if err != nil {
				return err
			}
			p, err := dataguard.LoadProfile(profilePath)
			if err != nil {
				return dataErr(err)
			}
			if df.labelFile != "" && p.Column("label") == nil {
				return Usage("--label-file: the profile has no column \"label\"")
			}
			var results []*dataguard.Validation
			for _, a := range args {
				prog := newRowProgress(env, df.progress, "validating")
				v, err := dataguard.Validate(a, p, dopt, dataguard.ValidateOptions{RangeSlack: slack, Progress: prog.set})
				prog.done()
				if err != nil {
					return dataErr(err)
				}
				results = append(results, v)
			}
			if htmlTo != "" {
				if err := writeAtomic(htmlTo, append(slices.Clone(args), profilePath, df.labelFile), func(w io.Writer) error { return validateHTML(w, profilePath, results) }); err != nil {
					return Usage("--html: %v", err)
				}
			}
			bad := 0
			for _, v := range results {
				if !v.Valid {
					bad++
				}
			}
			if format == "json" {
				if err := writeJSON(env.Stdout, map[string]any{"profile": profilePath, "valid": bad == 0, "files": results}); err != nil {
					return err
				}
			} else if err := writeValidateTable(env.Stdout, results); err != nil {
				return err
			}
			if bad > 0 {
				return &ExitError{Status: 1}
			}
			return nil
		},
	}
	df.register(c)
	c.Flags().StringVar(&profilePath, "profile", "", "the profile to validate against (required)")
	c.Flags().StringVar(&format, "format", "table", "output: table or json")
	c.Flags().StringVar(&htmlTo, "html", "", "also write a self-contained HTML report to this file")
	c.Flags().Float64Var(&slack, "range-slack", 0, "widen the profile's [min, max] by this fraction of its width on each side")
	return c
}

func rowList(rows []int64) string {
	s := make([]string, len(rows))
	for i, r := range rows {
		s[i] = strconv.FormatInt(r, 10)
	}
	return strings.Join(s, ", ")
}

func writeValidateTable(w io.Writer, results []*dataguard.Validation) error {
	for _, v := range results {
		if v.Valid {
			fmt.Fprintf(w, "%s: %d rows, no violations\n", report.Sanitize(v.Data), v.Rows)
			continue
		}
		fmt.Fprintf(w, "%s: %d rows, %d violations\n", report.Sanitize(v.Data), v.Rows, len(v.Violations))
		g := report.Grid{Header: []string{"column", "violation", "count", "example rows", "detail"},
			Right: []bool{false, false, true, false, false}}
		for _, x := range v.Violations {
			g.Rows = append(g.Rows, []string{x.Column, x.Kind, strconv.FormatInt(x.Count, 10), rowList(x.Rows), x.Detail})
			g.Flag = append(g.Flag, true)
		}
		if err := report.WriteGrid(w, g, report.ColorFor(w)); err != nil {
			return err
		}
	}
	return nil
}

// sideProfile loads a profile, or profiles a dataset keeping its values
// for exact tests.
func sideProfile(path string, dopt data.Options, label string, keep int64, prog *rowProgress) (*dataguard.Profile, error) {
	if dataguard.IsProfile(path) {
		return dataguard.LoadProfile(path)
	}
	return dataguard.ProfileFiles([]string{path}, dopt, dataguard.ProfileOptions{Label: label, KeepValues: keep, Progress: prog.set})
}

func newDataDriftCmd(env *Env) *cobra.Command {
	var (
		df                    dataFlags
		label, format, htmlTo string
		alpha                 float64
		bins                  int
	)
	c := &cobra.Command{
		Use:   "drift BASE CURRENT",
		Short: "Measure drift between two datasets or profiles (exit 1 on drift)",
		Long: `Compare CURRENT with BASE column by column. Each may be a dataset or a profile.

Numeric columns: two-sample Kolmogorov–Smirnov (exact p-values for small
samples, asymptotic for large ones, as scipy's ks_2samp), with the
Wasserstein distance, PSI and Jensen–Shannon distance over base-quantile bins
as effect sizes. When both sides are datasets the tests use every value; when
a side is a profile they use its quantile sketches ("sketch" method).
Categorical columns and the label: chi-squared test of homogeneity, with PSI
and Jensen–Shannon. Free-text columns are not tested.

The verdict controls the false discovery rate: p-values are adjusted with
Benjamini–Hochberg over the tested columns and a column drifts when its
adjusted p-value is below --alpha (default 0.05). A column present on one side
only is drift.`,
		Example: `  rampart data drift train.csv today.csv --label y
  rampart data drift train.profile.json today.parquet --format json --html drift.html`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dopt, err := df.setup(format, &label)
			if err != nil {
				return err
			}
			prog := newRowProgress(env, df.progress, "reading")
			base, err := sideProfile(args[0], dopt, label, dataguard.DefaultKeepValues/2, prog)
			if err != nil {
				prog.done()
				return dataErr(err)
			}
			if label == "" {
				label = base.Label
			}
			cur, err := sideProfile(args[1], dopt, label, dataguard.DefaultKeepValues/2, prog)
			prog.done()
			if err != nil {
				return dataErr(err)
			}
			res, err := dataguard.Drift(base, cur, dataguard.DriftOptions{Alpha: alpha, Bins: bins})
			if err != nil {
				return dataErr(err)
			}
			res.Base, res.Current = args[0], args[1]
			if htmlTo != "" {
				if err := writeAtomic(htmlTo, append(slices.Clone(args), df.labelFile), func(w io.Writer) error { return driftHTML(w, res) }); err != nil {
					return Usage("--html: %v", err)
				}
			}
			if format == "json" {
				if err := writeJSON(env.Stdout, res); err != nil {
					return err
				}
			} else if err := writeDriftTable(env.Stdout, res); err != nil {
				return err
			}
			if res.Drift {
				return &ExitError{Status: 1}
			}
			return nil
		},
	}
	df.register(c)
	c.Flags().StringVar(&label, "label", "", "the label column (compared as a categorical column)")
	c.Flags().StringVar(&format, "format", "table", "output: table or json")
	c.Flags().StringVar(&htmlTo, "html", "", "also write a self-contained HTML report with plots to this file")
	c.Flags().Float64Var(&alpha, "alpha", dataguard.DefaultAlpha, "false discovery rate for the drift verdict")
	c.Flags().IntVar(&bins, "bins", dataguard.DefaultBins, "base-quantile bins for PSI and Jensen–Shannon")
	return c
}

func pText(p float64) string {
	if p < 1e-4 {
		return strconv.FormatFloat(p, 'e', 1, 64)
	}
	return strconv.FormatFloat(p, 'f', 4, 64)
}

func writeDriftTable(w io.Writer, r *dataguard.DriftResult) error {
	verdict := "no drift"
	if r.Drift {
		verdict = "DRIFT"
	}
	fmt.Fprintf(w, "%s: %d of %d columns drifted (Benjamini–Hochberg, alpha %g)\n", verdict, r.Drifted, len(r.Columns), r.Alpha)
	g := report.Grid{Header: []string{"column", "kind", "test", "statistic", "p", "p adj", "PSI", "JS", "drift", "method"},
		Right: []bool{false, false, false, true, true, true, true, true, false, false}}
	for _, c := range r.Columns {
		d := ""
		if c.Drift {
			d = "yes"
		}
		g.Rows = append(g.Rows, []string{c.Name, c.Kind, c.Test, num(c.Statistic), pText(c.PValue), pText(c.PAdjusted),
			num(c.PSI), num(c.JS), d, c.Describe()})
		g.Flag = append(g.Flag, c.Drift)
	}
	return report.WriteGrid(w, g, report.ColorFor(w))
}
