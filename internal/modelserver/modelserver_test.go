package modelserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestEmbeddedModel(t *testing.T) {
	m := Model()
	if m.NumFeatures() != 30 || len(m.FeatureNames) != 30 {
		t.Fatalf("NumFeatures = %d, names = %d, want 30", m.NumFeatures(), len(m.FeatureNames))
	}
	if m.ClassNames != [2]string{"malignant", "benign"} {
		t.Errorf("ClassNames = %v", m.ClassNames)
	}
	if m.TestAccuracy < 0.9 || m.TrainAccuracy < 0.9 {
		t.Errorf("accuracy train %v test %v, want > 0.9", m.TrainAccuracy, m.TestAccuracy)
	}
	labels := map[string]int{}
	for _, s := range m.Samples() {
		labels[s.Label]++
	}
	if labels["malignant"] == 0 || labels["benign"] == 0 {
		t.Errorf("samples cover labels %v, want both", labels)
	}
	// Model hands out copies: changing one must not change the next.
	m.Coefficients[0] = 1e9
	m.SampleRows[0].Features[0] = -1
	if n := Model(); n.Coefficients[0] == 1e9 || n.Samples()[0].Features[0] == -1 {
		t.Error("Model() shares state between callers")
	}
}

func TestExampleCopyIsIdentical(t *testing.T) {
	b, err := os.ReadFile("../../examples/demo/breast_cancer_model.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, modelJSON) {
		t.Fatal("examples/demo/breast_cancer_model.json differs from the embedded copy; rerun scripts/train_demo_model.py")
	}
}

func TestPredictMatchesScikitLearn(t *testing.T) {
	m := Model()
	for i, s := range m.Samples() {
		t.Run(fmt.Sprintf("sample%d_%s", i, s.Label), func(t *testing.T) {
			p := m.Predict(s.Features)
			for c := range 2 {
				if d := math.Abs(p[c] - s.Probabilities[c]); d > 1e-6 {
					t.Errorf("p[%d] = %v, scikit-learn %v (diff %g)", c, p[c], s.Probabilities[c], d)
				}
			}
			if got := m.Label(p); got != s.Label {
				t.Errorf("label %q, want %q", got, s.Label)
			}
		})
	}
}

func TestPredictPanicsOnWrongLength(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Predict with 3 features did not panic")
		}
	}()
	Model().Predict([]float64{1, 2, 3})
}

func TestParseModelRejects(t *testing.T) {
	good := Model()
	cases := map[string]func(m *LogisticModel){
		"no name":        func(m *LogisticModel) { m.Name = "" },
		"short mean":     func(m *LogisticModel) { m.Mean = m.Mean[1:] },
		"zero scale":     func(m *LogisticModel) { m.Scale[3] = 0 },
		"no class":       func(m *LogisticModel) { m.ClassNames[1] = "" },
		"short sample":   func(m *LogisticModel) { m.SampleRows[0].Features = m.SampleRows[0].Features[:2] },
		"no coefficient": func(m *LogisticModel) { m.Coefficients = nil },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			m := good.clone()
			mutate(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseModel(b); err == nil {
				t.Error("ParseModel accepted an invalid model")
			}
			if _, err := New(Options{Model: m}); err == nil {
				t.Error("New accepted an invalid model")
			}
		})
	}
	if _, err := ParseModel([]byte(`{"name":`)); err == nil {
		t.Error("ParseModel accepted truncated JSON")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	cases := map[string]Options{
		"bad name":       {Models: []string{"a/b"}},
		"empty name":     {Models: []string{""}},
		"duplicate":      {Models: []string{"x", "x"}},
		"negative body":  {MaxBodyBytes: -1},
		"negative batch": {MaxBatch: -1},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := New(o); err == nil {
				t.Error("New accepted bad options")
			}
		})
	}
}

// inferBody builds a JSON inference request for rows.
func inferBody(t testing.TB, datatype string, rows [][]float64, nested bool, extra map[string]any) string {
	t.Helper()
	var data any
	if nested {
		data = rows
	} else {
		flat := []float64{}
		for _, r := range rows {
			flat = append(flat, r...)
		}
		data = flat
	}
	req := map[string]any{
		"inputs": []map[string]any{{
			"name": "features", "datatype": datatype,
			"shape": []int{len(rows), 30}, "data": data,
		}},
	}
	for k, v := range extra {
		req[k] = v
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type result struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, srv *httptest.Server, method, path, body string, hdr map[string]string) result {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := result{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if method != http.MethodHead {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %v: %q", method, path, err, raw)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
	}
	return r
}

func newTestServer(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestEndpoints(t *testing.T) {
	srv := newTestServer(t, Options{MaxBatch: 8, MaxBodyBytes: 64 << 10})
	m := Model()
	samples := m.Samples()
	var rows [][]float64
	for _, s := range samples {
		rows = append(rows, s.Features)
	}
	one := [][]float64{samples[0].Features}

	checkInfer := func(model string, n int) func(t *testing.T, r result) {
		return func(t *testing.T, r result) {
			var resp InferResponse
			if err := json.Unmarshal([]byte(r.raw), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.ModelName != model || resp.ModelVersion != "1" {
				t.Errorf("model %q version %q", resp.ModelName, resp.ModelVersion)
			}
			if len(resp.Outputs) != 2 {
				t.Fatalf("outputs = %+v", resp.Outputs)
			}
			probs, labels := resp.Outputs[0], resp.Outputs[1]
			if probs.Name != OutputProbs || probs.Datatype != "FP32" || fmt.Sprint(probs.Shape) != fmt.Sprintf("[%d 2]", n) {
				t.Errorf("probabilities tensor %+v", probs)
			}
			if labels.Name != OutputLabel || labels.Datatype != "BYTES" || fmt.Sprint(labels.Shape) != fmt.Sprintf("[%d]", n) {
				t.Errorf("label tensor %+v", labels)
			}
			pd, ld := probs.Data.([]any), labels.Data.([]any)
			if len(pd) != 2*n || len(ld) != n {
				t.Fatalf("got %d probabilities and %d labels for %d rows", len(pd), len(ld), n)
			}
			for i := range n {
				if ld[i] != samples[i].Label {
					t.Errorf("row %d label %v, want %s", i, ld[i], samples[i].Label)
				}
				for c := range 2 {
					// FP32 output: agreement to float32 precision.
					if d := math.Abs(pd[2*i+c].(float64) - samples[i].Probabilities[c]); d > 1e-4 {
						t.Errorf("row %d p[%d] = %v, want %v", i, c, pd[2*i+c], samples[i].Probabilities[c])
					}
				}
			}
		}
	}
	errorIs := func(substr string) func(t *testing.T, r result) {
		return func(t *testing.T, r result) {
			msg, _ := r.body["error"].(string)
			if !strings.Contains(msg, substr) {
				t.Errorf("error %q does not mention %q", msg, substr)
			}
		}
	}
	bigBody := inferBody(t, "FP64", one, false, map[string]any{"pad": strings.Repeat("x", 70<<10)})

	cases := []struct {
		name, method, path, body string
		hdr                      map[string]string
		status                   int
		check                    func(t *testing.T, r result)
	}{
		{"server metadata", "GET", "/v2", "", nil, 200, func(t *testing.T, r result) {
			if r.body["name"] != "rampart-demo-modelserver" || r.body["version"] == nil || r.body["extensions"] == nil {
				t.Errorf("body %v", r.body)
			}
		}},
		{"live", "GET", "/v2/health/live", "", nil, 200, func(t *testing.T, r result) {
			if r.body["live"] != true {
				t.Errorf("body %v", r.body)
			}
		}},
		{"ready", "GET", "/v2/health/ready", "", nil, 200, func(t *testing.T, r result) {
			if r.body["ready"] != true {
				t.Errorf("body %v", r.body)
			}
		}},
		{"model metadata", "GET", "/v2/models/breast-cancer", "", nil, 200, func(t *testing.T, r result) {
			want := `{"inputs":[{"datatype":"FP32","name":"features","shape":[-1,30]}],"name":"breast-cancer","outputs":[{"datatype":"FP32","name":"probabilities","shape":[-1,2]},{"datatype":"BYTES","name":"label","shape":[-1]}],"platform":"rampart_go_logistic_regression","versions":["1"]}`
			if got, _ := json.Marshal(r.body); string(got) != want {
				t.Errorf("metadata\n got %s\nwant %s", got, want)
			}
		}},
		{"versioned metadata", "GET", "/v2/models/breast-cancer-restricted/versions/1", "", nil, 200, func(t *testing.T, r result) {
			if r.body["name"] != "breast-cancer-restricted" {
				t.Errorf("body %v", r.body)
			}
		}},
		{"model ready", "GET", "/v2/models/breast-cancer/ready", "", nil, 200, func(t *testing.T, r result) {
			if r.body["ready"] != true || r.body["name"] != "breast-cancer" {
				t.Errorf("body %v", r.body)
			}
		}},
		{"versioned ready", "GET", "/v2/models/breast-cancer/versions/1/ready", "", nil, 200, nil},
		{"infer flat FP32", "POST", "/v2/models/breast-cancer/infer", inferBody(t, "FP32", rows, false, nil), nil, 200, checkInfer("breast-cancer", len(rows))},
		{"infer nested FP64", "POST", "/v2/models/breast-cancer/infer", inferBody(t, "FP64", rows, true, nil), nil, 200, checkInfer("breast-cancer", len(rows))},
		{"infer versioned restricted", "POST", "/v2/models/breast-cancer-restricted/versions/1/infer", inferBody(t, "FP32", one, true, nil), nil, 200, checkInfer("breast-cancer-restricted", 1)},
		{"infer echoes id and selects output", "POST", "/v2/models/breast-cancer/infer", inferBody(t, "FP32", one, false, map[string]any{"id": "req-7", "outputs": []map[string]string{{"name": "label"}}}), nil, 200, func(t *testing.T, r result) {
			want := fmt.Sprintf(`{"id":"req-7","model_name":"breast-cancer","model_version":"1","outputs":[{"data":[%q],"datatype":"BYTES","name":"label","shape":[1]}]}`, samples[0].Label)
			if got, _ := json.Marshal(r.body); string(got) != want {
				t.Errorf("got %s\nwant %s", got, want)
			}
		}},
		{"infer zero rows", "POST", "/v2/models/breast-cancer/infer", `{"inputs":[{"name":"features","datatype":"FP32","shape":[0,30],"data":[]}]}`, nil, 200, nil},
		{"unknown model", "GET", "/v2/models/nope", "", nil, 404, errorIs(`"nope"`)},
		{"unknown version", "GET", "/v2/models/breast-cancer/versions/9", "", nil, 404, errorIs("version")},
		{"infer unknown model", "POST", "/v2/models/nope/infer", inferBody(t, "FP32", one, false, nil), nil, 404, errorIs("not found")},
		{"unknown path", "GET", "/v2/models/breast-cancer/explain", "", nil, 404, errorIs("not found")},
		{"not v2", "GET", "/v1/models", "", nil, 404, errorIs("not found")},
		{"get infer", "GET", "/v2/models/breast-cancer/infer", "", nil, 405, errorIs("POST")},
		{"post metadata", "POST", "/v2/models/breast-cancer", "{}", nil, 405, errorIs("GET")},
		{"bad json", "POST", "/v2/models/breast-cancer/infer", `{"inputs":[`, nil, 400, errorIs("JSON")},
		{"trailing data", "POST", "/v2/models/breast-cancer/infer", inferBody(t, "FP32", one, false, nil) + "{}", nil, 400, errorIs("after")},
		{"no inputs", "POST", "/v2/models/breast-cancer/infer", `{"inputs":[]}`, nil, 400, errorIs("exactly 1")},
		{"wrong input name", "POST", "/v2/models/breast-cancer/infer", strings.Replace(inferBody(t, "FP32", one, false, nil), `"features"`, `"x"`, 1), nil, 400, errorIs("unknown input")},
		{"wrong datatype", "POST", "/v2/models/breast-cancer/infer", inferBody(t, "INT64", one, false, nil), nil, 400, errorIs("datatype")},
		{"wrong shape", "POST", "/v2/models/breast-cancer/infer", `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,29],"data":[1]}]}`, nil, 400, errorIs("shape")},
		{"negative rows", "POST", "/v2/models/breast-cancer/infer", `{"inputs":[{"name":"features","datatype":"FP32","shape":[-1,30],"data":[]}]}`, nil, 400, errorIs("shape")},
		{"too few values", "POST", "/v2/models/breast-cancer/infer", `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,30],"data":[1,2]}]}`, nil, 400, errorIs("needs 30")},
		{"too many values", "POST", "/v2/models/breast-cancer/infer", `{"inputs":[{"name":"features","datatype":"FP32","shape":[0,30],"data":[1]}]}`, nil, 400, errorIs("more values")},
		{"string value", "POST", "/v2/models/breast-cancer/infer", `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,30],"data":["1"]}]}`, nil, 400, errorIs("only numbers")},
		{"no data", "POST", "/v2/models/breast-cancer/infer", `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,30]}]}`, nil, 400, errorIs("needs data")},
		{"FP32 overflow", "POST", "/v2/models/breast-cancer/infer", `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,30],"data":[1e39` + strings.Repeat(",1", 29) + `]}]}`, nil, 400, errorIs("finite")},
		{"batch limit", "POST", "/v2/models/breast-cancer/infer", `{"inputs":[{"name":"features","datatype":"FP32","shape":[9,30],"data":[]}]}`, nil, 400, errorIs("limit")},
		{"unknown output", "POST", "/v2/models/breast-cancer/infer", inferBody(t, "FP32", one, false, map[string]any{"outputs": []map[string]string{{"name": "logits"}}}), nil, 400, errorIs("unknown output")},
		{"body too large", "POST", "/v2/models/breast-cancer/infer", bigBody, nil, 413, errorIs("exceeds")},
		{"bad binary header", "POST", "/v2/models/breast-cancer/infer", "{}", map[string]string{binaryHeader: "99"}, 400, errorIs(binaryHeader)},
		{"unclaimed binary", "POST", "/v2/models/breast-cancer/infer", inferBody(t, "FP32", one, false, nil) + "abcd", map[string]string{binaryHeader: strconv.Itoa(len(inferBody(t, "FP32", one, false, nil)))}, 400, errorIs("not claimed")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, srv, tc.method, tc.path, tc.body, tc.hdr)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if tc.status >= 400 {
				if _, ok := r.body["error"].(string); !ok || len(r.body) != 1 {
					t.Errorf("error body is not OIP {\"error\": ...}: %s", r.raw)
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// binaryRequest builds a Triton binary-tensor request for rows.
func binaryRequest(t *testing.T, datatype string, rows [][]float64) (body []byte, headerLen int) {
	t.Helper()
	var bin bytes.Buffer
	for _, r := range rows {
		for _, v := range r {
			if datatype == "FP32" {
				_ = binary.Write(&bin, binary.LittleEndian, float32(v))
			} else {
				_ = binary.Write(&bin, binary.LittleEndian, v)
			}
		}
	}
	hdr, err := json.Marshal(map[string]any{"inputs": []map[string]any{{
		"name": "features", "datatype": datatype, "shape": []int{len(rows), 30},
		"parameters": map[string]any{"binary_data_size": bin.Len()},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return append(hdr, bin.Bytes()...), len(hdr)
}

func TestInferBinaryTensor(t *testing.T) {
	srv := newTestServer(t, Options{})
	samples := Model().Samples()
	rows := [][]float64{samples[0].Features, samples[len(samples)-1].Features}
	for _, dt := range []string{"FP32", "FP64"} {
		t.Run(dt, func(t *testing.T) {
			body, n := binaryRequest(t, dt, rows)
			r := do(t, srv, "POST", "/v2/models/breast-cancer/infer", string(body), map[string]string{binaryHeader: strconv.Itoa(n), "Content-Type": "application/octet-stream"})
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			labels := r.body["outputs"].([]any)[1].(map[string]any)["data"].([]any)
			if labels[0] != samples[0].Label || labels[1] != samples[len(samples)-1].Label {
				t.Errorf("labels %v", labels)
			}
		})
	}
	t.Run("size mismatch", func(t *testing.T) {
		body, n := binaryRequest(t, "FP32", rows)
		r := do(t, srv, "POST", "/v2/models/breast-cancer/infer", string(body[:len(body)-4]), map[string]string{binaryHeader: strconv.Itoa(n)})
		if r.status != 400 {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
	})
	t.Run("NaN", func(t *testing.T) {
		nan := append([]float64(nil), rows[0]...)
		nan[4] = math.NaN()
		body, n := binaryRequest(t, "FP64", [][]float64{nan})
		r := do(t, srv, "POST", "/v2/models/breast-cancer/infer", string(body), map[string]string{binaryHeader: strconv.Itoa(n)})
		if r.status != 400 || !strings.Contains(r.raw, "finite") {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
	})
}

func TestCustomModelNames(t *testing.T) {
	srv := newTestServer(t, Options{Models: []string{"only-one"}})
	if r := do(t, srv, "GET", "/v2/models/only-one", "", nil); r.status != 200 {
		t.Errorf("configured model: status %d", r.status)
	}
	if r := do(t, srv, "GET", "/v2/models/breast-cancer", "", nil); r.status != 404 {
		t.Errorf("unconfigured default model: status %d", r.status)
	}
}

func TestListenAndAnnounce(t *testing.T) {
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- ListenAndAnnounce(ctx, "127.0.0.1:0", h, pw) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "READY port=")
	if !ok {
		t.Fatalf("announcement %q", line)
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/v2/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("ready: status %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndAnnounce returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop after cancel")
	}
	if err := ListenAndAnnounce(t.Context(), "256.0.0.1:bad", h, io.Discard); err == nil {
		t.Error("ListenAndAnnounce on a bad address returned nil")
	}
}

// FuzzInfer feeds arbitrary bodies and binary-header values to the inference
// endpoint: it must answer 200 or a 4xx OIP error, never panic or 5xx.
func FuzzInfer(f *testing.F) {
	samples := Model().Samples()
	f.Add(inferBody(f, "FP32", [][]float64{samples[0].Features}, false, nil), "")
	f.Add(inferBody(f, "FP64", [][]float64{samples[0].Features, samples[1].Features}, true, map[string]any{"id": "x"}), "")
	binHeader := `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,30],"parameters":{"binary_data_size":120}}]}`
	f.Add(binHeader+strings.Repeat("\x00\x00\x80\x3f", 30), strconv.Itoa(len(binHeader)))
	f.Add(`{"inputs":[{"name":"features","datatype":"FP32","shape":[1,30],"data":[[[[1]]]]}]}`, "")
	f.Add(`{"inputs":[{"name":"features","datatype":"FP64","shape":[2,30],"data":null}],"outputs":[{"name":"label"}]}`, "3")
	h, err := New(Options{MaxBatch: 64, MaxBodyBytes: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body, headerLen string) {
		req := httptest.NewRequest("POST", "/v2/models/breast-cancer/infer", strings.NewReader(body))
		if headerLen != "" {
			req.Header.Set(binaryHeader, headerLen)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 400 && rec.Code != 413 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("response is not JSON: %v", err)
		}
		if rec.Code != 200 {
			if _, ok := out["error"].(string); !ok {
				t.Fatalf("error response without error message: %s", rec.Body)
			}
		}
	})
}
