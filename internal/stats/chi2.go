package stats

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// errBadTable reports a contingency table that cannot be tested.
var errBadTable = errors.New("invalid contingency table")

// ChiSquareContingency is Pearson's chi-square test of independence on an
// r x c table of counts, matching scipy.stats.chi2_contingency(table) with its
// defaults: expected counts from the margins, Yates' continuity correction
// (each |observed - expected| reduced by at most 0.5) when dof == 1, and
// dof = (r-1)(c-1).
//
// SciPy rejects tables with a zero expected count. Here all-zero columns (a
// category seen in neither sample) are dropped first, since they carry no
// information; an all-zero row (an empty sample), fewer than two remaining
// columns, a ragged or empty table, or a negative or non-finite entry is an
// error. A single row gives dof 0, statistic 0 and p-value 1, as in SciPy.
func ChiSquareContingency(table [][]float64) (stat, p float64, dof int, err error) {
	if len(table) == 0 || len(table[0]) == 0 {
		return 0, 0, 0, fmt.Errorf("chi-square: %w: empty", errBadTable)
	}
	r, c := len(table), len(table[0])
	colSum := make([]float64, c)
	for i, row := range table {
		if len(row) != c {
			return 0, 0, 0, fmt.Errorf("chi-square: %w: row %d has %d columns, want %d", errBadTable, i, len(row), c)
		}
		for j, v := range row {
			if !(v >= 0) || math.IsInf(v, 0) {
				return 0, 0, 0, fmt.Errorf("chi-square: %w: entry [%d][%d] = %v", errBadTable, i, j, v)
			}
			colSum[j] += v
		}
	}
	var keep []int
	for j, s := range colSum {
		if s > 0 {
			keep = append(keep, j)
		}
	}
	if len(keep) < 2 {
		return 0, 0, 0, fmt.Errorf("chi-square: %w: %d non-empty columns, need 2", errBadTable, len(keep))
	}
	rowSum := make([]float64, r)
	total := 0.0
	for i, row := range table {
		for _, j := range keep {
			rowSum[i] += row[j]
		}
		if rowSum[i] == 0 {
			return 0, 0, 0, fmt.Errorf("chi-square: %w: row %d is all zero", errBadTable, i)
		}
		total += rowSum[i]
	}
	dof = (r - 1) * (len(keep) - 1)
	if dof == 0 {
		return 0, 1, 0, nil
	}
	for i, row := range table {
		for _, j := range keep {
			e := rowSum[i] * colSum[j] / total
			diff := row[j] - e
			if dof == 1 {
				diff = math.Copysign(math.Max(math.Abs(diff)-0.5, 0), diff)
			}
			stat += diff * diff / e
		}
	}
	return stat, ChiSquareSF(stat, float64(dof)), dof, nil
}

// ChiSquareSF is the survival function Pr(X > x) of the chi-square
// distribution with dof degrees of freedom (scipy.stats.chi2.sf), i.e. the
// regularised upper incomplete gamma function Q(dof/2, x/2). It returns NaN
// for NaN arguments or dof <= 0, and 1 for x <= 0.
func ChiSquareSF(x float64, dof float64) float64 {
	switch {
	case math.IsNaN(x) || math.IsNaN(dof) || dof <= 0 || math.IsInf(dof, 0):
		return math.NaN()
	case x <= 0:
		return 1
	case math.IsInf(x, 1):
		return 0
	}
	return mathext.GammaIncRegComp(dof/2, x/2)
}
