package cli

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/rampart-ai/rampart/internal/dataguard"
	"github.com/rampart-ai/rampart/internal/report"
)

func newDataAuditCmd(env *Env) *cobra.Command {
	var (
		df                             dataFlags
		label, against, format, htmlTo string
		near, minShare, outTop, outIso float64
		maxCells                       int64
		folds                          int
		seed                           uint64
		skip                           []string
		limit                          int
		scores                         bool
	)
	c := &cobra.Command{
		Use:   "audit DATA --label COL [--against OTHER]",
		Short: "Audit a training set for poisoning and integrity problems (exit 1 on findings)",
		Long: `Look for signs of poisoning and corruption in a labelled dataset, each finding
ranked by score:

  duplicate           a row identical to an earlier one
  near_duplicate      features within --near-tolerance (RMS, in standard
                      deviations) of another row
  conflicting_labels  identical features with different labels
  leakage             a row that also appears in --against (e.g. the test set)
  outlier             far from the bulk of the data: ranked by an ensemble of
                      ECOD and a robust (MCD) Mahalanobis distance, flagged
                      in the top --outlier-top when an isolation forest also
                      isolates it more than any row of Gaussian data of the
                      same shape
  class_imbalance     a class far rarer than the others, or class proportions
                      that differ from --against
  label_noise         a label that a model trained out of fold (in Go, by
                      rampart) confidently disagrees with: confident learning

The feature matrix is held in memory (bounded by --max-cells). Row numbers are
0-based data rows. Exit status: 0 no findings, 1 findings, 2 input errors.`,
		Example: `  rampart data audit train.csv --label y --against test.csv
  rampart data audit train-images-idx3-ubyte.gz --label-file train-labels-idx1-ubyte.gz --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dopt, err := df.setup(format, &label)
			if err != nil {
				return err
			}
			for _, s := range skip {
				switch s {
				case "label_noise", "outlier", "near_duplicate":
				default:
					return Usage("--skip %q: want label_noise, outlier or near_duplicate", s)
				}
			}
			prog := newRowProgress(env, df.progress, "auditing")
			res, err := dataguard.Audit(args[0], dopt, dataguard.AuditOptions{
				Label: label, Against: against, NearTolerance: near, MaxCells: maxCells,
				MinClassShare: minShare, OutlierTop: outTop, OutlierIsolation: outIso, Folds: folds, Seed: seed, Skip: skip,
				Progress: func(stage string) {
					if prog.bar != nil {
						prog.bar.Describe(stage)
					}
				}})
			prog.done()
			if err != nil {
				return dataErr(err)
			}
			if htmlTo != "" {
				if err := writeAtomic(htmlTo, []string{args[0], against, df.labelFile}, func(w io.Writer) error { return auditHTML(w, res) }); err != nil {
					return Usage("--html: %v", err)
				}
			}
			if format == "json" {
				if scores {
					res.WithScores()
				}
				if err := writeJSON(env.Stdout, res); err != nil {
					return err
				}
			} else if err := writeAuditTable(env.Stdout, res, limit); err != nil {
				return err
			}
			if len(res.Findings) > 0 {
				return &ExitError{Status: 1}
			}
			return nil
		},
	}
	df.register(c)
	c.Flags().StringVar(&label, "label", "", "the label column (needed for conflicting labels, class balance and label noise)")
	c.Flags().StringVar(&against, "against", "", "a second file (e.g. the test set) to check for leakage and class shift")
	c.Flags().StringVar(&format, "format", "table", "output: table or json")
	c.Flags().StringVar(&htmlTo, "html", "", "also write a self-contained HTML report with plots to this file")
	c.Flags().Float64Var(&near, "near-tolerance", 0, "near duplicates: largest RMS difference of standardized features (default 0.05, less with few features)")
	c.Flags().Float64Var(&minShare, "min-class-share", dataguard.DefaultMinClassShare, "a class below this fraction of the mean class size is reported")
	c.Flags().Float64Var(&outTop, "outlier-top", dataguard.DefaultOutlierTop, "outliers: the largest fraction of rows flagged (top of the ensemble ranking)")
	c.Flags().Float64Var(&outIso, "outlier-isolation", 0, "outliers: the isolation-forest score (0.5 ordinary, 1 isolated) a flagged row must exceed (default: the highest score of a Gaussian sample of the same shape)")
	c.Flags().Int64Var(&maxCells, "max-cells", dataguard.DefaultMaxCells, "largest feature matrix (rows × columns) held in memory")
	c.Flags().IntVar(&folds, "folds", 5, "cross-validation folds for the label-noise model")
	c.Flags().Uint64Var(&seed, "seed", 1, "random seed (isolation forest, folds, model)")
	c.Flags().StringSliceVar(&skip, "skip", nil, "analyses to skip: label_noise, outlier, near_duplicate")
	c.Flags().BoolVar(&scores, "scores", false, "JSON output: include every row's outlier and label-noise scores")
	c.Flags().IntVar(&limit, "limit", 50, "table output: most findings listed per kind (JSON lists all)")
	return c
}

func writeAuditTable(w io.Writer, r *dataguard.AuditResult, limit int) error {
	fmt.Fprintf(w, "%s: %d rows, %d features", report.Sanitize(r.Data), r.Rows, r.Features)
	if r.Label != "" {
		fmt.Fprintf(w, ", label %q with %d classes", report.Sanitize(r.Label), len(r.Classes))
	}
	fmt.Fprintln(w)
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", report.Sanitize(n))
	}
	if len(r.Findings) == 0 {
		fmt.Fprintln(w, "no findings")
		return nil
	}
	var kinds []string
	for _, f := range r.Findings {
		if len(kinds) == 0 || kinds[len(kinds)-1] != f.Kind {
			kinds = append(kinds, f.Kind)
		}
	}
	fmt.Fprint(w, "findings:")
	for _, k := range kinds {
		fmt.Fprintf(w, " %s %d", k, r.Summary[k])
	}
	fmt.Fprintln(w)
	g := report.Grid{Header: []string{"kind", "row", "score", "reason"}, Right: []bool{false, true, true, false}, MaxWidth: 90}
	shown := map[string]int{}
	for _, f := range r.Findings {
		if shown[f.Kind] >= limit && limit > 0 {
			continue
		}
		shown[f.Kind]++
		row := ""
		if f.Row != nil {
			row = strconv.FormatInt(*f.Row, 10)
		}
		g.Rows = append(g.Rows, []string{f.Kind, row, strconv.FormatFloat(f.Score, 'f', 3, 64), f.Reason})
	}
	if err := report.WriteGrid(w, g, report.ColorFor(w)); err != nil {
		return err
	}
	for _, k := range kinds {
		if r.Summary[k] > shown[k] {
			fmt.Fprintf(w, "… %d more %s findings (--limit 0 or --format json lists all)\n", r.Summary[k]-shown[k], k)
		}
	}
	return nil
}
