package stats

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// Golden values below were produced with /usr/bin/python3 (numpy 1.24,
// scipy 1.10):
//
//	rng = np.random.default_rng(20261202)
//	x = np.round(rng.lognormal(0.5, 1.2, 97), 6)
//	x.mean(), x.var(ddof=1), scipy.stats.skew(x, bias=True),
//	scipy.stats.kurtosis(x, fisher=True, bias=True), x.min(), x.max()
//	y = np.round(1e6 + rng.normal(0, 1e-2, 50), 9)   # same statistics
//	L = np.array([[1,0.5,0,0],[0,2,0.3,0],[0,0,1,-0.7],[0,0,0,0.1]])
//	X = np.round(rng.normal(size=(41, 4)) @ L + np.array([3,-1,100,0]), 6)
//	X.mean(axis=0), np.cov(X, rowvar=False)
//
// (covData and covWant are used by cov_test.go.)

var momentsData = []float64{1.561881, 2.598448, 12.009105, 0.203973, 9.693781, 3.556838, 1.515198, 0.371796, 0.877556, 0.506417, 0.483636, 1.335226, 4.157128, 0.291315, 0.166691, 0.521814, 0.568369, 0.801139, 1.341726, 7.433934, 1.655787, 1.747903, 1.592408, 3.130392, 6.482923, 6.138676, 3.597745, 0.399905, 3.54785, 1.402098, 2.479043, 11.731839, 0.069319, 0.618106, 3.197027, 0.992272, 1.587258, 1.09902, 16.700613, 2.160095, 1.240143, 1.269156, 3.307915, 10.019572, 1.474164, 7.256657, 1.901496, 0.155115, 6.880325, 0.126882, 1.84239, 8.452068, 11.268427, 2.734279, 0.215623, 6.091005, 1.344053, 0.596118, 1.180767, 0.435321, 0.89761, 0.777389, 1.81818, 1.209334, 2.983734, 5.861605, 0.483738, 0.075718, 9.940399, 0.939668, 1.868889, 0.308984, 4.179869, 1.987496, 1.473663, 11.785908, 1.378104, 0.695743, 2.081656, 3.134009, 4.927273, 55.032091, 2.19252, 3.507357, 0.481598, 0.48379, 2.119307, 0.538741, 4.560785, 2.033871, 3.494746, 1.408503, 8.59699, 1.560179, 0.593135, 2.021868, 2.856532}
var momentsWant = [6]float64{3.4887495670103097, 38.90135785218629, 6.114722396110404, 46.49892705043404, 0.069319, 55.032091}
var momentsShifted = []float64{999999.992903347, 999999.98903071, 999999.997167511, 999999.992945506, 999999.989325182, 1000000.007849935, 1000000.009279208, 1000000.000235508, 1000000.010173528, 999999.993353628, 1000000.013373732, 999999.999991871, 1000000.011043322, 999999.984911031, 1000000.011627516, 999999.993924779, 999999.995958387, 999999.992744256, 1000000.014301842, 999999.978671061, 999999.998985737, 1000000.0168493, 1000000.011997388, 1000000.000969606, 999999.989833106, 1000000.011855031, 999999.9907595, 999999.990931448, 1000000.000355784, 999999.998116191, 999999.992462569, 1000000.021799013, 999999.990004296, 1000000.004580593, 999999.995533132, 1000000.015690456, 999999.995204945, 1000000.021428204, 999999.991741246, 999999.992892478, 1000000.010375982, 999999.983149589, 999999.992278381, 1000000.005595209, 1000000.001456333, 999999.985311967, 1000000.01619935, 999999.987804039, 1000000.01355534, 999999.996416692}
var momentsShiftedWant = [4]float64{1000000.0000588953, 0.0001171394780390078, 0.27873230293562223, -0.9428282302188595}
var covData = []float64{5.423956, -2.873305, 99.70938, -0.221029, 2.868869, 0.033623, 100.827434, -0.546833, 1.473314, -2.443877, 98.487072, 0.914623, 3.332123, -2.886471, 99.896571, -0.151968, 2.273372, -3.887657, 99.764879, -0.081002, 3.376127, -2.693786, 101.037521, -0.707356, 1.28958, -2.864438, 99.095475, 0.465952, 3.439714, -0.688896, 100.982764, -0.663018, 3.540247, -0.990385, 99.761705, -0.098997, 2.570802, -3.343071, 97.550191, 1.594564, 2.817574, 2.331749, 100.633044, -0.072708, 3.815845, -0.826643, 98.216089, 1.259022, 3.153288, -1.474355, 98.725279, 0.95487, 2.795992, -1.364923, 99.213994, 0.593067, 3.802164, -4.648595, 99.685286, -0.208023, 4.362966, 0.071328, 100.780761, -0.528134, 2.632331, 2.342841, 100.174395, 0.28795, 2.293974, 1.192346, 101.614577, -1.036874, 4.129835, -2.097752, 100.60833, -0.800265, 3.173261, 0.801798, 99.895825, 0.146613, 3.293787, -3.614557, 97.673395, 1.368391, 2.381099, 0.008457, 100.370697, -0.096574, 3.026497, 2.468901, 100.281556, 0.262631, 1.53743, -2.21882, 101.20199, -0.915301, 3.264649, -3.977589, 100.820268, -0.758499, 2.777904, -2.20883, 99.742437, 0.135717, 3.530994, -3.065338, 97.958351, 1.253828, 4.188547, -0.094512, 97.82229, 1.693895, 1.820133, -0.292295, 99.950935, 0.033912, 4.460747, 1.271024, 99.956584, 0.20702, 3.320873, 0.872591, 99.217092, 0.529723, 4.644446, -0.737202, 100.801701, -0.628238, 3.360359, -2.671583, 100.887195, -0.744102, 3.99024, -1.392728, 100.342761, -0.314346, 3.738933, -1.123668, 99.169301, 0.511904, 3.719562, -2.100436, 100.479676, -0.433365, 3.833441, -2.422496, 97.907277, 1.180952, 3.202698, -0.80676, 98.735748, 0.922583, 0.888027, 1.533472, 100.236968, 0.197833, 1.938608, -0.736648, 99.636514, 0.241095, 1.773045, -4.449001, 98.864743, 0.569581}
var covWantMean = []float64{3.103837878048781, -1.269963097560976, 99.7248305121951, 0.15412424390243903}
var covWant = []float64{0.9530004419166098, -0.06873101528276224, -0.01409357604096153, -0.0433374799454945, -0.06873101528276224, 3.6130599538167902, 0.6282993108648276, -0.09841957781785061, -0.01409357604096153, 0.6282993108648276, 1.1438778257196074, -0.7485787740575535, -0.0433374799454945, -0.09841957781785061, -0.7485787740575535, 0.5314631385503391}

func sketchRelClose(got, want, tol float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= tol*math.Max(math.Abs(want), 1e-300)
}

func TestMomentsGolden(t *testing.T) {
	check := func(t *testing.T, m *Moments, tol float64) {
		t.Helper()
		got := [6]float64{m.Mean, m.Variance(), m.Skewness(), m.Kurtosis(), m.Min, m.Max}
		for i, name := range []string{"mean", "variance", "skewness", "kurtosis", "min", "max"} {
			if !sketchRelClose(got[i], momentsWant[i], tol) {
				t.Errorf("%s = %.17g, want %.17g", name, got[i], momentsWant[i])
			}
		}
		if m.N != float64(len(momentsData)) {
			t.Errorf("N = %v, want %d", m.N, len(momentsData))
		}
		if !sketchRelClose(m.Std(), math.Sqrt(momentsWant[1]), tol) {
			t.Errorf("std = %v", m.Std())
		}
	}
	t.Run("add", func(t *testing.T) {
		m := NewMoments()
		for _, x := range momentsData {
			m.Add(x)
		}
		check(t, m, 1e-9)
	})
	t.Run("add_slice", func(t *testing.T) {
		m := NewMoments()
		if s := m.AddSlice(momentsData); s != 0 {
			t.Fatalf("skipped %d", s)
		}
		check(t, m, 1e-9)
	})
	t.Run("merge_of_splits", func(t *testing.T) {
		for _, cut := range []int{1, 2, 13, 50, 96} {
			a, b := NewMoments(), NewMoments()
			a.AddSlice(momentsData[:cut])
			for _, x := range momentsData[cut:] {
				b.Add(x)
			}
			a.Merge(b)
			check(t, a, 1e-9)
		}
	})
	t.Run("zero_value_accumulates", func(t *testing.T) {
		var m Moments
		m.AddSlice(momentsData)
		check(t, &m, 1e-9)
	})
	t.Run("shifted_large_mean", func(t *testing.T) {
		m := NewMoments()
		m.AddSlice(momentsShifted)
		got := [4]float64{m.Mean, m.Variance(), m.Skewness(), m.Kurtosis()}
		// The data carry ~1e-10 absolute representation error on
		// deviations of 1e-2, so higher moments agree to ~1e-6 only.
		tols := [4]float64{1e-12, 1e-7, 1e-5, 1e-5}
		for i := range got {
			if !sketchRelClose(got[i], momentsShiftedWant[i], tols[i]) {
				t.Errorf("stat %d = %.17g, want %.17g", i, got[i], momentsShiftedWant[i])
			}
		}
	})
}

func TestMomentsAddSliceSkipsNonFinite(t *testing.T) {
	xs := make([]float64, 0, 3000)
	for i := range 2990 {
		xs = append(xs, float64(i%37)-3.5)
	}
	want := NewMoments()
	for _, x := range xs {
		want.Add(x)
	}
	dirty := append([]float64{math.NaN()}, xs[:1500]...)
	dirty = append(dirty, math.Inf(1), math.Inf(-1), math.NaN())
	dirty = append(dirty, xs[1500:]...)
	got := NewMoments()
	if s := got.AddSlice(dirty); s != 4 {
		t.Fatalf("skipped = %d, want 4", s)
	}
	if got.N != want.N || !sketchRelClose(got.Mean, want.Mean, 1e-12) || !sketchRelClose(got.M2, want.M2, 1e-12) ||
		!sketchRelClose(got.M3, want.M3, 1e-9) || !sketchRelClose(got.M4, want.M4, 1e-12) || got.Min != want.Min || got.Max != want.Max {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	allBad := NewMoments()
	if s := allBad.AddSlice([]float64{math.NaN(), math.Inf(1)}); s != 2 || allBad.N != 0 {
		t.Fatalf("skipped %d, N %v", s, allBad.N)
	}
}

func TestMomentsEdgeCases(t *testing.T) {
	m := NewMoments()
	for name, v := range map[string]float64{"variance": m.Variance(), "skew": m.Skewness(), "kurt": m.Kurtosis()} {
		if !math.IsNaN(v) {
			t.Errorf("empty %s = %v, want NaN", name, v)
		}
	}
	m.Add(5)
	if !math.IsNaN(m.Variance()) || m.Min != 5 || m.Max != 5 || m.Mean != 5 {
		t.Errorf("single value: %+v", m)
	}
	m.AddSlice([]float64{5, 5, 5})
	if m.Variance() != 0 || !math.IsNaN(m.Skewness()) || !math.IsNaN(m.Kurtosis()) {
		t.Errorf("constant: var %v skew %v kurt %v", m.Variance(), m.Skewness(), m.Kurtosis())
	}
	e := NewMoments()
	m2 := *m
	m.Merge(e)
	if *m != m2 {
		t.Errorf("merging empty changed %+v to %+v", m2, *m)
	}
	e.Merge(m)
	if *e != *m {
		t.Errorf("merging into empty gave %+v, want %+v", *e, *m)
	}
}

func TestMomentsJSON(t *testing.T) {
	t.Run("round_trip", func(t *testing.T) {
		m := NewMoments()
		m.AddSlice(momentsData)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back Moments
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back != *m {
			t.Fatalf("round trip %+v != %+v", back, *m)
		}
		b2, _ := json.Marshal(&back)
		if string(b) != string(b2) {
			t.Fatalf("re-marshal differs:\n%s\n%s", b, b2)
		}
		for _, key := range []string{`"n":97`, `"mean":`, `"m2":`, `"m3":`, `"m4":`, `"min":`, `"max":`} {
			if !strings.Contains(string(b), key) {
				t.Errorf("%s missing from %s", key, b)
			}
		}
	})
	t.Run("empty", func(t *testing.T) {
		b, err := json.Marshal(NewMoments())
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != `{"n":0,"mean":0,"m2":0,"m3":0,"m4":0}` {
			t.Fatalf("empty marshals as %s", b)
		}
		var back Moments
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		back.Add(-2)
		if back.Min != -2 || back.Max != -2 {
			t.Fatalf("loaded empty then Add: %+v", back)
		}
	})
	bad := map[string]string{
		"not_object":   `[1,2]`,
		"negative_n":   `{"n":-1,"mean":0,"m2":0,"m3":0,"m4":0,"min":0,"max":0}`,
		"negative_m2":  `{"n":3,"mean":0,"m2":-1,"m3":0,"m4":0,"min":0,"max":0}`,
		"negative_m4":  `{"n":3,"mean":0,"m2":1,"m3":0,"m4":-1,"min":0,"max":0}`,
		"min_gt_max":   `{"n":3,"mean":0,"m2":1,"m3":0,"m4":1,"min":2,"max":1}`,
		"missing_min":  `{"n":3,"mean":0,"m2":1,"m3":0,"m4":1,"max":1}`,
		"empty_dirty":  `{"n":0,"mean":1,"m2":0,"m3":0,"m4":0}`,
		"overflow":     `{"n":3,"mean":0,"m2":1e999,"m3":0,"m4":1,"min":0,"max":1}`,
		"string_field": `{"n":"3"}`,
	}
	for name, in := range bad {
		t.Run("reject_"+name, func(t *testing.T) {
			var m Moments
			err := json.Unmarshal([]byte(in), &m)
			if err == nil {
				t.Fatalf("accepted %s", in)
			}
			if !errors.Is(err, ErrBadSketch) {
				t.Fatalf("error %v does not wrap ErrBadSketch", err)
			}
		})
	}
}

func BenchmarkMomentsAddSlice(b *testing.B) {
	xs := make([]float64, 1<<16)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range xs {
		xs[i] = r.NormFloat64()*3 + 10
	}
	m := NewMoments()
	b.SetBytes(8 * int64(len(xs)))
	b.ResetTimer()
	for range b.N {
		m.AddSlice(xs)
	}
	b.ReportMetric(float64(b.N)*float64(len(xs))/b.Elapsed().Seconds()/1e6, "Mvalues/s")
}

func BenchmarkMomentsAdd(b *testing.B) {
	m := NewMoments()
	b.ResetTimer()
	for i := range b.N {
		m.Add(float64(i & 1023))
	}
}
