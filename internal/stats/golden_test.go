package stats

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
)

// golden mirrors testdata/golden/stats.json, written by gen.py from SciPy.
type golden struct {
	ScipyVersion string `json:"scipy_version"`
	KS2          []struct {
		Name              string    `json:"name"`
		A                 []float64 `json:"a"`
		B                 []float64 `json:"b"`
		Statistic         float64   `json:"statistic"`
		PValue            float64   `json:"pvalue"`
		Method            string    `json:"method"`
		PValueOtherBranch *float64  `json:"pvalue_other_branch"`
	} `json:"ks2"`
	KSTwoSF []struct {
		N  int     `json:"n"`
		X  float64 `json:"x"`
		SF float64 `json:"sf"`
	} `json:"kstwo_sf"`
	KS2Weighted []struct {
		Name      string    `json:"name"`
		AV        []float64 `json:"av"`
		AW        []float64 `json:"aw"`
		BV        []float64 `json:"bv"`
		BW        []float64 `json:"bw"`
		Statistic float64   `json:"statistic"`
		PValue    float64   `json:"pvalue"`
	} `json:"ks2_weighted"`
	Chi2Contingency []struct {
		Name  string      `json:"name"`
		Table [][]float64 `json:"table"`
		Stat  float64     `json:"stat"`
		P     float64     `json:"p"`
		DOF   int         `json:"dof"`
	} `json:"chi2_contingency"`
	Chi2SF []struct {
		X   float64 `json:"x"`
		DOF float64 `json:"dof"`
		SF  float64 `json:"sf"`
	} `json:"chi2_sf"`
	JensenShannon []struct {
		Name  string    `json:"name"`
		P     []float64 `json:"p"`
		Q     []float64 `json:"q"`
		Value float64   `json:"value"`
	} `json:"jensenshannon"`
	Wasserstein []struct {
		Name  string    `json:"name"`
		A     []float64 `json:"a"`
		B     []float64 `json:"b"`
		AW    []float64 `json:"aw"`
		BW    []float64 `json:"bw"`
		Value float64   `json:"value"`
	} `json:"wasserstein"`
	Multiple []struct {
		Name       string    `json:"name"`
		P          []float64 `json:"p"`
		BH         []float64 `json:"bh"`
		Bonferroni []float64 `json:"bonferroni"`
	} `json:"multiple"`
	PSI []struct {
		Name     string    `json:"name"`
		Expected []float64 `json:"expected"`
		Actual   []float64 `json:"actual"`
		Value    float64   `json:"value"`
	} `json:"psi"`
}

var (
	goldenOnce sync.Once
	goldenData golden
	goldenErr  error
)

func loadGolden(t *testing.T) *golden {
	t.Helper()
	goldenOnce.Do(func() {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", "stats.json"))
		if err != nil {
			goldenErr = err
			return
		}
		goldenErr = json.Unmarshal(b, &goldenData)
	})
	if goldenErr != nil {
		t.Fatalf("load golden file: %v", goldenErr)
	}
	return &goldenData
}

const (
	pTol      = 1e-6 // absolute, for probabilities
	statRel   = 1e-6 // relative, for statistics
	statAbs   = 1e-9 // absolute floor near zero, for statistics
	worstShow = 3
)

// deviations records |go - scipy| per function so -v can show the worst.
type deviations struct {
	mu    sync.Mutex
	worst map[string][]deviation
}

type deviation struct {
	abs  float64
	what string
}

func (d *deviations) add(fn, what string, got, want float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.worst == nil {
		d.worst = map[string][]deviation{}
	}
	dev := math.Abs(got - want)
	if math.IsNaN(dev) {
		dev = math.Inf(1)
	}
	l := append(d.worst[fn], deviation{dev, what})
	sort.Slice(l, func(i, j int) bool { return l[i].abs > l[j].abs })
	if len(l) > worstShow {
		l = l[:worstShow]
	}
	d.worst[fn] = l
}

func (d *deviations) report(t *testing.T) {
	fns := make([]string, 0, len(d.worst))
	for fn := range d.worst {
		fns = append(fns, fn)
	}
	sort.Strings(fns)
	for _, fn := range fns {
		for _, dv := range d.worst[fn] {
			t.Logf("worst %-22s |go-scipy| = %.3g  (%s)", fn, dv.abs, dv.what)
		}
	}
}

func checkP(t *testing.T, dev *deviations, fn, what string, got, want float64) {
	t.Helper()
	dev.add(fn, what, got, want)
	if !(math.Abs(got-want) <= pTol) {
		t.Errorf("%s %s: p = %.17g, scipy %.17g (diff %.3g)", fn, what, got, want, got-want)
	}
}

func checkStat(t *testing.T, dev *deviations, fn, what string, got, want float64) {
	t.Helper()
	dev.add(fn, what, got, want)
	diff := math.Abs(got - want)
	if !(diff <= statAbs || diff <= statRel*math.Abs(want)) {
		t.Errorf("%s %s: statistic = %.17g, scipy %.17g (diff %.3g)", fn, what, got, want, got-want)
	}
}

func TestGoldenScipy(t *testing.T) {
	g := loadGolden(t)
	var dev deviations
	t.Logf("golden values from scipy %s", g.ScipyVersion)
	cases := 0

	t.Run("KS2", func(t *testing.T) {
		for _, c := range g.KS2 {
			cases++
			t.Run(c.Name, func(t *testing.T) {
				a0, b0 := c.A[0], c.B[len(c.B)-1]
				got, err := KS2(c.A, c.B)
				if err != nil {
					t.Fatal(err)
				}
				if c.A[0] != a0 || c.B[len(c.B)-1] != b0 {
					t.Error("KS2 modified its input")
				}
				if got.Method != c.Method {
					t.Errorf("method %q, want %q", got.Method, c.Method)
				}
				checkStat(t, &dev, "KS2.statistic", c.Name, got.Statistic, c.Statistic)
				checkP(t, &dev, "KS2.pvalue", c.Name, got.PValue, c.PValue)
				if c.PValue > 0 {
					// Informational: relative agreement in the far tail.
					dev.add("KS2.pvalue(relative)", c.Name, got.PValue/c.PValue, 1)
				}
				if c.PValueOtherBranch != nil {
					// The golden is only a branch test if the other branch
					// would have been detectably different.
					if d := math.Abs(*c.PValueOtherBranch - c.PValue); d <= 10*pTol {
						t.Errorf("threshold case does not separate branches: %g", d)
					}
				}
			})
		}
	})
	t.Run("kstwo_sf", func(t *testing.T) {
		for _, c := range g.KSTwoSF {
			cases++
			what := fmt.Sprintf("n=%d x=%.6g", c.N, c.X)
			checkP(t, &dev, "kolmogorovSF", what, kolmogorovSF(c.N, c.X), c.SF)
		}
	})
	t.Run("KS2Weighted", func(t *testing.T) {
		for _, c := range g.KS2Weighted {
			cases++
			t.Run(c.Name, func(t *testing.T) {
				got, err := KS2Weighted(c.AV, c.AW, c.BV, c.BW)
				if err != nil {
					t.Fatal(err)
				}
				if got.Method != "sketch" {
					t.Errorf("method %q", got.Method)
				}
				checkStat(t, &dev, "KS2Weighted.statistic", c.Name, got.Statistic, c.Statistic)
				checkP(t, &dev, "KS2Weighted.pvalue", c.Name, got.PValue, c.PValue)
			})
		}
	})
	t.Run("ChiSquareContingency", func(t *testing.T) {
		for _, c := range g.Chi2Contingency {
			cases++
			t.Run(c.Name, func(t *testing.T) {
				stat, p, dof, err := ChiSquareContingency(c.Table)
				if err != nil {
					t.Fatal(err)
				}
				if dof != c.DOF {
					t.Errorf("dof %d, want %d", dof, c.DOF)
				}
				checkStat(t, &dev, "ChiSquareContingency.stat", c.Name, stat, c.Stat)
				checkP(t, &dev, "ChiSquareContingency.p", c.Name, p, c.P)
			})
		}
	})
	t.Run("ChiSquareSF", func(t *testing.T) {
		for _, c := range g.Chi2SF {
			cases++
			what := fmt.Sprintf("x=%g dof=%g", c.X, c.DOF)
			got := ChiSquareSF(c.X, c.DOF)
			checkP(t, &dev, "ChiSquareSF", what, got, c.SF)
			// Tail values must also be right relatively, or tiny p-values
			// would be reported as wildly different magnitudes.
			if c.SF > 0 && math.Abs(got-c.SF) > 1e-9*c.SF {
				t.Errorf("ChiSquareSF(%s) = %g, scipy %g (relative)", what, got, c.SF)
			}
		}
	})
	t.Run("JensenShannon", func(t *testing.T) {
		for _, c := range g.JensenShannon {
			cases++
			checkStat(t, &dev, "JensenShannon", c.Name, JensenShannon(c.P, c.Q), c.Value)
		}
	})
	t.Run("Wasserstein", func(t *testing.T) {
		for _, c := range g.Wasserstein {
			cases++
			var got float64
			if c.AW == nil {
				got = Wasserstein1(c.A, c.B)
			} else {
				got = Wasserstein1Weighted(c.A, c.AW, c.B, c.BW)
			}
			checkStat(t, &dev, "Wasserstein1", c.Name, got, c.Value)
		}
	})
	t.Run("Multiple", func(t *testing.T) {
		for _, c := range g.Multiple {
			cases++
			bh := BenjaminiHochberg(c.P)
			bf := Bonferroni(c.P)
			if len(bh) != len(c.P) || len(bf) != len(c.P) {
				t.Fatalf("%s: lengths %d, %d, want %d", c.Name, len(bh), len(bf), len(c.P))
			}
			for i := range c.P {
				what := fmt.Sprintf("%s[%d]", c.Name, i)
				checkP(t, &dev, "BenjaminiHochberg", what, bh[i], c.BH[i])
				checkP(t, &dev, "Bonferroni", what, bf[i], c.Bonferroni[i])
			}
		}
	})
	t.Run("PSI", func(t *testing.T) {
		for _, c := range g.PSI {
			cases++
			checkStat(t, &dev, "PSI", c.Name, PSI(c.Expected, c.Actual), c.Value)
		}
	})
	if cases < 60 {
		t.Errorf("only %d golden cases", cases)
	}
	t.Logf("%d golden cases", cases)
	dev.report(t)
}
