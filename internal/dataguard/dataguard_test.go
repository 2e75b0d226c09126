package dataguard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart/internal/data"
)

// writeCSV writes rows of a synthetic table: two numeric features, a
// categorical colour, a free-text note and a label.
func writeCSV(t testing.TB, dir, name string, rows int, seed uint64, shift float64) string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	var b strings.Builder
	b.WriteString("x,y,colour,note,label\n")
	colours := []string{"red", "green", "blue"}
	for i := range rows {
		cls := i % 3
		fmt.Fprintf(&b, "%g,%d,%s,SECRET-note-%d-%d,%s\n",
			r.NormFloat64()+float64(cls)+shift, r.IntN(100), colours[r.IntN(3)], seed, i, []string{"a", "b", "c"}[cls])
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func profileOf(t testing.TB, paths []string, opt ProfileOptions) *Profile {
	t.Helper()
	p, err := ProfileFiles(paths, data.Options{}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func rel(a, b float64) float64 {
	return math.Abs(a-b) / math.Max(math.Max(math.Abs(a), math.Abs(b)), 1e-300)
}

// TestMergeEqualsWhole: the merge of shard profiles is the profile of the
// whole, exactly in counts and (to rounding) in moments and covariance.
func TestMergeEqualsWhole(t *testing.T) {
	dir := t.TempDir()
	a := writeCSV(t, dir, "a.csv", 3000, 1, 0)
	b := writeCSV(t, dir, "b.csv", 5000, 2, 0)
	opt := ProfileOptions{Label: "label", Workers: 2}
	whole := profileOf(t, []string{a, b}, opt)
	merged, err := MergeProfiles([]*Profile{profileOf(t, []string{a}, opt), profileOf(t, []string{b}, opt)})
	if err != nil {
		t.Fatal(err)
	}
	if merged.Rows != whole.Rows || merged.Rows != 8000 {
		t.Fatalf("rows %d vs %d", merged.Rows, whole.Rows)
	}
	for i := range whole.Columns {
		w, m := &whole.Columns[i], &merged.Columns[i]
		if w.Count != m.Count || w.Nulls != m.Nulls || w.Kind != m.Kind || w.Categorical != m.Categorical {
			t.Errorf("%s: whole %+v merged %+v", w.Name, *w, *m)
		}
		if w.Moments != nil {
			if rel(w.Moments.Mean, m.Moments.Mean) > 1e-12 || rel(w.Moments.M2, m.Moments.M2) > 1e-9 || *w.Min != *m.Min || *w.Max != *m.Max {
				t.Errorf("%s: moments whole %+v merged %+v", w.Name, *w.Moments, *m.Moments)
			}
			if q1, q2 := w.Quantiles.Quantile(0.5), m.Quantiles.Quantile(0.5); math.Abs(w.Quantiles.Rank(q2)-0.5) > 0.02 {
				t.Errorf("%s: median whole %g merged %g", w.Name, q1, q2)
			}
		}
	}
	if fmt.Sprint(whole.Classes) != fmt.Sprint(merged.Classes) {
		t.Errorf("classes whole %v merged %v", whole.Classes, merged.Classes)
	}
	wc, mc := whole.Multivariate.Cov.Covariance(), merged.Multivariate.Cov.Covariance()
	for i := range wc {
		if rel(wc[i], mc[i]) > 1e-9 {
			t.Errorf("covariance[%d]: whole %g merged %g", i, wc[i], mc[i])
		}
	}
	// Round trip through JSON.
	var buf bytes.Buffer
	if err := WriteProfile(&buf, merged); err != nil {
		t.Fatal(err)
	}
	back, err := DecodeProfile(&buf)
	if err != nil {
		t.Fatalf("decode own profile: %v", err)
	}
	if back.Rows != merged.Rows || len(back.Columns) != len(merged.Columns) {
		t.Errorf("round trip changed the profile")
	}
}

// TestProfileLeaksNoText is the regression test for the profile's privacy
// promise: a free-text column (here made of "secrets") leaves no value and
// no hash in the profile, and categorical values appear only as hashes
// unless IncludeDomain asks for them.
func TestProfileLeaksNoText(t *testing.T) {
	dir := t.TempDir()
	a := writeCSV(t, dir, "a.csv", 2000, 1, 0)
	var buf bytes.Buffer
	p := profileOf(t, []string{a}, ProfileOptions{Label: "label"})
	if err := WriteProfile(&buf, p); err != nil {
		t.Fatal(err)
	}
	js := buf.String()
	if strings.Contains(js, "SECRET") {
		t.Error("the profile contains free-text values")
	}
	if strings.Contains(js, `"green"`) {
		t.Error("the profile contains categorical values without IncludeDomain")
	}
	note := p.Column("note")
	if note.Categorical || note.Frequent != nil || len(note.Domain) > 0 {
		t.Errorf("free-text column kept value summaries: %+v", note)
	}
	if !p.Column("colour").Categorical {
		t.Error("colour is not categorical")
	}
	buf.Reset()
	p = profileOf(t, []string{a}, ProfileOptions{Label: "label", IncludeDomain: true})
	WriteProfile(&buf, p)
	if !strings.Contains(buf.String(), `"green"`) || strings.Contains(buf.String(), "SECRET") {
		t.Error("IncludeDomain should store categorical values and still no free text")
	}
}

func TestDecodeProfileRejects(t *testing.T) {
	dir := t.TempDir()
	p := profileOf(t, []string{writeCSV(t, dir, "a.csv", 300, 1, 0)}, ProfileOptions{Label: "label"})
	var buf bytes.Buffer
	WriteProfile(&buf, p)
	good := buf.String()
	var m map[string]any
	json.Unmarshal([]byte(good), &m)
	edit := func(f func(m map[string]any)) string {
		var c map[string]any
		json.Unmarshal([]byte(good), &c)
		f(c)
		b, _ := json.Marshal(c)
		return string(b)
	}
	col := func(c map[string]any, i int) map[string]any { return c["columns"].([]any)[i].(map[string]any) }
	cases := []struct{ name, in, want string }{
		{"not json", "{", "not a valid profile"},
		{"wrong format", edit(func(c map[string]any) { c["format"] = "other" }), "format"},
		{"future version", edit(func(c map[string]any) { c["version"] = 2 }), "version 2"},
		{"unknown field", edit(func(c map[string]any) { c["extra"] = 1 }), "unknown field"},
		{"counts do not add up", edit(func(c map[string]any) { col(c, 0)["count"] = 5 }), "!= 300 rows"},
		{"negative nulls", edit(func(c map[string]any) { col(c, 1)["nulls"] = -1 }), "outside"},
		{"duplicate column", edit(func(c map[string]any) { col(c, 1)["name"] = "x" }), "duplicate"},
		{"unknown kind", edit(func(c map[string]any) { col(c, 0)["kind"] = "complex" }), "unknown kind"},
		{"label missing", edit(func(c map[string]any) { c["label"] = "nope" }), "label column"},
		{"bad sketch", edit(func(c map[string]any) { col(c, 0)["quantiles"] = map[string]any{"k": -3} }), "not a valid profile"},
		{"trailing data", good + "{}", "after the JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeProfile(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// FuzzDecodeProfile: a profile file is untrusted input.
func FuzzDecodeProfile(f *testing.F) {
	dir := f.TempDir()
	p := profileOf(f, []string{writeCSV(f, dir, "a.csv", 50, 1, 0)}, ProfileOptions{Label: "label"})
	var buf bytes.Buffer
	WriteProfile(&buf, p)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format":"rampart.data.profile","version":1,"rows":0,"columns":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeProfile(bytes.NewReader(b))
		if err != nil {
			return
		}
		// A profile that decodes must be usable by every engine.
		if _, err := Drift(p, p, DriftOptions{}); err != nil {
			t.Logf("drift on a decoded profile: %v", err)
		}
		_ = p.Schema()
	})
}

func TestDriftDetectsShift(t *testing.T) {
	dir := t.TempDir()
	base := writeCSV(t, dir, "base.csv", 4000, 1, 0)
	same := writeCSV(t, dir, "same.csv", 4000, 2, 0)
	moved := writeCSV(t, dir, "moved.csv", 4000, 3, 0.3)
	keep := ProfileOptions{Label: "label", KeepValues: 1 << 20}
	bp := profileOf(t, []string{base}, keep)
	for _, c := range []struct {
		name  string
		cur   *Profile
		drift bool
	}{
		{"same distribution, exact", profileOf(t, []string{same}, keep), false},
		{"shifted x, exact", profileOf(t, []string{moved}, keep), true},
		{"same distribution, sketch", profileOf(t, []string{same}, ProfileOptions{Label: "label"}), false},
		{"shifted x, sketch", profileOf(t, []string{moved}, ProfileOptions{Label: "label"}), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Drift(bp, c.cur, DriftOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, col := range res.Columns {
				want := c.drift && col.Name == "x"
				if col.Drift != want {
					t.Errorf("%s: drift %v (test %s, p %g, adj %g, method %s), want %v", col.Name, col.Drift, col.Test, col.PValue, col.PAdjusted, col.Method, want)
				}
				if col.Name == "note" && col.Test != TestNone {
					t.Errorf("free text was tested with %s", col.Test)
				}
				if col.Name == "colour" && col.Test != TestChi2 {
					t.Errorf("colour tested with %s", col.Test)
				}
			}
		})
	}
}

func TestValidateCountsViolations(t *testing.T) {
	dir := t.TempDir()
	p := profileOf(t, []string{writeCSV(t, dir, "a.csv", 500, 1, 0)}, ProfileOptions{Label: "label"})
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("x,y,colour,note,label,extra\n"+
		"0.5,10,red,n,a,1\n"+ // fine
		"abc,10,red,n,a,1\n"+ // type
		"0.5,,red,n,a,1\n"+ // missing
		"1e6,10,red,n,a,1\n"+ // out of range
		"0.5,10,purple,n,a,1\n"+ // unseen category
		"0.5,10.5,red,n,a,1\n"+ // fraction in whole numbers
		"NaN,10,red,n,z,1\n"+ // NaN and unseen label
		"0.5,10\n"), 0o644) // ragged
	v, err := Validate(bad, p, data.Options{}, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]int64{}
	for _, x := range v.Violations {
		got[x.Column+"/"+x.Kind] = x.Rows
	}
	want := map[string][]int64{
		"extra/extra_column": nil, "x/type": {1}, "y/missing": {2}, "colour/missing": {7}, "x/out_of_range": {3},
		"colour/unseen_category": {4}, "y/type": {5}, "x/nan": {6}, "label/unseen_category": {6}, "/ragged": {7},
	}
	for k, rows := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("no %s violation; got %v", k, got)
			continue
		}
		if rows != nil && fmt.Sprint(g) != fmt.Sprint(rows) {
			t.Errorf("%s: rows %v, want %v", k, g, rows)
		}
	}
	if v.Valid {
		t.Error("valid")
	}
}

// TestProfileDoesNotRebuildRows is the regression test for a row leak: the
// quantile sketches' entry levels kept values in arrival order, so zipping
// the sketches of a profile's columns side by side rebuilt whole rows (all
// 150 rows of a 150-row table).
func TestProfileDoesNotRebuildRows(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(5, 5))
	var b strings.Builder
	b.WriteString("salary,age,zip\n")
	rows := map[string]bool{}
	for range 150 {
		row := fmt.Sprintf("%d,%d,%d", 20000+r.IntN(200000), 18+r.IntN(60), 10000+r.IntN(89999))
		rows[row] = true
		b.WriteString(row + "\n")
	}
	p := filepath.Join(dir, "people.csv")
	os.WriteFile(p, []byte(b.String()), 0o644)
	prof := profileOf(t, []string{p}, ProfileOptions{Workers: 1})
	var buf bytes.Buffer
	WriteProfile(&buf, prof)
	var doc struct {
		Columns []struct {
			Quantiles struct{ Levels [][]float64 } `json:"quantiles"`
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	l := [3][]float64{}
	for i := range 3 {
		l[i] = doc.Columns[i].Quantiles.Levels[0]
	}
	rebuilt := 0
	for i := range l[0] {
		if rows[fmt.Sprintf("%.0f,%.0f,%.0f", l[0][i], l[1][i], l[2][i])] {
			rebuilt++
		}
	}
	if rebuilt > 5 {
		t.Errorf("%d of %d rows rebuilt from the profile's sketches", rebuilt, len(l[0]))
	}
}

// TestProfileInfinity: one infinity must not stop profiling (it once made
// the profile unwritable: JSON has no infinity); it is counted, and the
// range is that of the finite values.
func TestProfileInfinity(t *testing.T) {
	p := filepath.Join(t.TempDir(), "inf.csv")
	os.WriteFile(p, []byte("a,b\n1,2\ninf,3\n-inf,4\n"), 0o644)
	prof := profileOf(t, []string{p}, ProfileOptions{})
	var buf bytes.Buffer
	if err := WriteProfile(&buf, prof); err != nil {
		t.Fatal(err)
	}
	a := prof.Column("a")
	if a.PosInf != 1 || a.NegInf != 1 || *a.Min != 1 || *a.Max != 1 {
		t.Errorf("a: inf %d/%d, range [%v, %v]", a.PosInf, a.NegInf, *a.Min, *a.Max)
	}
	if _, err := DecodeProfile(&buf); err != nil {
		t.Errorf("decode: %v", err)
	}
}

// TestProfileFreeTextKeepsNoHashes is the regression test for free-text
// values leaking as hashes: a column of e-mail addresses kept every
// value's hash in its distinct-count sketch (exact mode), and a short one
// counted as categorical and kept them as frequent values too.
func TestProfileFreeTextKeepsNoHashes(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{3, 600} {
		var b strings.Builder
		b.WriteString("email,x\n")
		for i := range n {
			fmt.Fprintf(&b, "user%d@example.com,%d\n", i, i)
		}
		p := filepath.Join(dir, fmt.Sprintf("e%d.csv", n))
		os.WriteFile(p, []byte(b.String()), 0o644)
		prof := profileOf(t, []string{p}, ProfileOptions{})
		c := prof.Column("email")
		if c.Categorical || c.Frequent != nil || c.Distinct.Exact() {
			t.Errorf("%d e-mails: categorical %v, frequent %v, exact distinct list %v", n, c.Categorical, c.Frequent != nil, c.Distinct.Exact())
		}
		var buf bytes.Buffer
		WriteProfile(&buf, prof)
		if strings.Contains(buf.String(), "example.com") {
			t.Errorf("%d e-mails: values in the profile", n)
		}
	}
}

// TestProfileRefusesFreeTextLabel: class names are stored as they are, so
// a label column whose values do not repeat is refused.
func TestProfileRefusesFreeTextLabel(t *testing.T) {
	var b strings.Builder
	b.WriteString("x,comment\n")
	for i := range 50 {
		fmt.Fprintf(&b, "%d,private note number %d\n", i, i)
	}
	p := filepath.Join(t.TempDir(), "c.csv")
	os.WriteFile(p, []byte(b.String()), 0o644)
	_, err := ProfileFiles([]string{p}, data.Options{}, ProfileOptions{Label: "comment"})
	if err == nil || !strings.Contains(err.Error(), "really a label") {
		t.Errorf("got %v", err)
	}
}
