package stats

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestHashStable(t *testing.T) {
	// These values are part of the profile format: if this test fails, the
	// hash changed and the profile version must change with it.
	tests := []struct {
		name string
		got  uint64
		want uint64
	}{
		{"empty_string", HashString(""), 0xef46db3751d8e999},
		{"abc", HashString("abc"), 0x44bc2cf5ad770999},
		{"bytes_equal_string", HashBytes([]byte("abc")), HashString("abc")},
		{"neg_zero", HashFloat(math.Copysign(0, -1)), HashFloat(0)},
		{"nan_payloads", HashFloat(math.Float64frombits(0x7ff8000000000123)), HashFloat(math.NaN())},
		{"float_one", HashFloat(1), mix64(math.Float64bits(1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %#x, want %#x", tt.got, tt.want)
			}
		})
	}
	if HashFloat(1) == HashFloat(-1) || HashFloat(0) == HashFloat(math.NaN()) || HashFloat(math.Inf(1)) == HashFloat(math.Inf(-1)) {
		t.Fatal("distinct floats collide")
	}
}

func TestHLLAccuracy(t *testing.T) {
	cards := []int{1, 100, 1000, 1024, 1025, 2000, 5000, 10000, 30000, 100000, 1000000, 10000000}
	if testing.Short() {
		cards = cards[:len(cards)-1]
	}
	se := HLLRelStdErr
	if math.Abs(se-0.008125) > 1e-6 {
		t.Fatalf("relative standard error %v", se)
	}
	var report []string
	for _, n := range cards {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			h := NewHLL()
			for i := range n {
				// Every value twice: duplicates must not count.
				h.AddHash(HashFloat(float64(i)))
				if n < 1e6 {
					h.AddHash(HashFloat(float64(i)))
				}
			}
			est := h.Estimate()
			if n <= HLLExactLimit {
				if !h.Exact() || est != uint64(n) {
					t.Fatalf("exact mode: estimate %d exact %v, want %d", est, h.Exact(), n)
				}
				return
			}
			if h.Exact() {
				t.Fatal("still exact above the limit")
			}
			rel := (float64(est) - float64(n)) / float64(n)
			report = append(report, fmt.Sprintf("n=%d est=%d rel=%+.4f%%", n, est, 100*rel))
			if math.Abs(rel) > 3*se {
				t.Fatalf("estimate %d for %d distinct: relative error %.4f > 3σ %.4f", est, n, rel, 3*se)
			}
		})
	}
	t.Log(strings.Join(report, "; "))
}

func TestHLLMerge(t *testing.T) {
	add := func(h *HLL, lo, hi int) {
		for i := lo; i < hi; i++ {
			h.AddHash(HashString(fmt.Sprint("v", i)))
		}
	}
	tests := []struct {
		name           string
		a0, a1, b0, b1 int
	}{
		{"exact_exact_stays_exact", 0, 500, 250, 900},
		{"exact_exact_overflows", 0, 800, 600, 1500},
		{"exact_into_dense", 0, 5000, 4000, 4600},
		{"dense_into_exact", 0, 300, 100, 20000},
		{"dense_dense", 0, 30000, 10000, 50000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, all := NewHLL(), NewHLL(), NewHLL()
			add(a, tt.a0, tt.a1)
			add(b, tt.b0, tt.b1)
			add(all, min(tt.a0, tt.b0), max(tt.a1, tt.b1))
			a.Merge(b)
			ja, _ := json.Marshal(a)
			jall, _ := json.Marshal(all)
			if string(ja) != string(jall) {
				t.Fatalf("merged sketch differs from single sketch (estimates %d vs %d)", a.Estimate(), all.Estimate())
			}
			a.Merge(a)
			if ja2, _ := json.Marshal(a); string(ja2) != string(ja) {
				t.Fatal("self-merge changed the sketch")
			}
		})
	}
}

func TestHLLZeroHash(t *testing.T) {
	h := NewHLL()
	h.AddHash(0)
	h.AddHash(0)
	h.AddHash(1)
	if h.Estimate() != 2 {
		t.Fatalf("estimate %d", h.Estimate())
	}
	b, _ := json.Marshal(h)
	if string(b) != `{"p":14,"exact":["0000000000000000","0000000000000001"]}` {
		t.Fatalf("json %s", b)
	}
	var back HLL
	if err := json.Unmarshal(b, &back); err != nil || back.Estimate() != 2 {
		t.Fatalf("round trip: %v %d", err, back.Estimate())
	}
}

func TestHLLJSON(t *testing.T) {
	for _, n := range []int{0, 10, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			h := NewHLL()
			for i := range n {
				h.AddHash(HashFloat(float64(i) * 1.5))
			}
			b, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			var back HLL
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back.Estimate() != h.Estimate() || back.Exact() != h.Exact() {
				t.Fatalf("estimate %d/%d exact %v/%v", back.Estimate(), h.Estimate(), back.Exact(), h.Exact())
			}
			b2, _ := json.Marshal(&back)
			if string(b) != string(b2) {
				t.Fatal("re-marshal differs")
			}
		})
	}
	regs := make([]byte, 1<<14)
	good := base64.StdEncoding.EncodeToString(regs)
	regs[7] = 52
	tooBig := base64.StdEncoding.EncodeToString(regs)
	bad := map[string]string{
		"wrong_p":        `{"p":12,"exact":[]}`,
		"neither":        `{"p":14}`,
		"both":           `{"p":14,"exact":[],"registers":"` + good + `"}`,
		"bad_base64":     `{"p":14,"registers":"!!!"}`,
		"short":          `{"p":14,"registers":"AAAA"}`,
		"long":           `{"p":14,"registers":"` + good + `AAAA"}`,
		"register_value": `{"p":14,"registers":"` + tooBig + `"}`,
		"unsorted":       `{"p":14,"exact":["0000000000000002","0000000000000001"]}`,
		"duplicate":      `{"p":14,"exact":["0000000000000002","0000000000000002"]}`,
		"short_hex":      `{"p":14,"exact":["12"]}`,
		"not_hex":        `{"p":14,"exact":["000000000000000g"]}`,
		"too_many": `{"p":14,"exact":[` + func() string {
			s := make([]string, HLLExactLimit+1)
			for i := range s {
				s[i] = fmt.Sprintf(`"%016x"`, i+1)
			}
			return strings.Join(s, ",")
		}() + `]}`,
	}
	for name, in := range bad {
		t.Run("reject_"+name, func(t *testing.T) {
			var h HLL
			if err := json.Unmarshal([]byte(in), &h); !errors.Is(err, ErrBadSketch) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	var h HLL
	if err := json.Unmarshal([]byte(`{"p":14,"registers":"`+good+`"}`), &h); err != nil || h.Estimate() != 0 {
		t.Fatalf("all-zero registers: %v %d", err, h.Estimate())
	}
}

func BenchmarkHLLAddHashDense(b *testing.B) {
	h := NewHLL()
	for i := range 5000 {
		h.AddHash(mix64(uint64(i)))
	}
	b.ResetTimer()
	for i := range b.N {
		h.AddHash(uint64(i) * 0x9e3779b97f4a7c15)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mhashes/s")
}

func BenchmarkHLLAddHashExact(b *testing.B) {
	h := NewHLL()
	for i := range 1000 {
		h.AddHash(mix64(uint64(i)))
	}
	b.ResetTimer()
	for i := range b.N {
		h.AddHash(mix64(uint64(i % 1000)))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mhashes/s")
}

func BenchmarkHLLEstimate(b *testing.B) {
	h := NewHLL()
	for i := range 100000 {
		h.AddHash(mix64(uint64(i)))
	}
	b.ResetTimer()
	for range b.N {
		h.Estimate()
	}
}

// TestHLLStandardError checks the spread of many independent estimates
// against the stated relative standard error, which catches bias and a
// wrong estimator far better than single estimates.
func TestHLLStandardError(t *testing.T) {
	const trials, n = 60, 20000
	var sum, sumSq float64
	for trial := range trials {
		h := NewHLL()
		for i := range n {
			h.AddHash(mix64(uint64(trial)<<32 | uint64(i)))
		}
		rel := float64(h.Estimate())/n - 1
		sum += rel
		sumSq += rel * rel
	}
	mean := sum / trials
	rmse := math.Sqrt(sumSq / trials)
	t.Logf("n=%d over %d trials: mean relative error %+.4f%%, RMSE %.4f%% (stated %.4f%%)", n, trials, 100*mean, 100*rmse, 100*HLLRelStdErr)
	if math.Abs(mean) > 3*HLLRelStdErr/math.Sqrt(trials) {
		t.Errorf("biased: mean relative error %v", mean)
	}
	if rmse > 1.4*HLLRelStdErr || rmse < 0.6*HLLRelStdErr {
		t.Errorf("RMSE %v far from stated %v", rmse, HLLRelStdErr)
	}
}
