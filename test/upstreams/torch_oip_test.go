package upstreams

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ai/rampart/internal/modelserver"
)

func startTorch(t *testing.T, args ...string) *Process {
	t.Helper()
	py, err := Python()
	if err != nil {
		t.Skipf("PyTorch upstream unavailable (scripts/test.sh installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	p, err := StartTorchOIP(ctx, py, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	return p
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func call(t *testing.T, c *http.Client, method, url string, body []byte, hdr map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

func jsonRequest(t *testing.T, rows [][]float64, extra string) []byte {
	t.Helper()
	data, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(`{"id":"r1","inputs":[{"name":"input__0","datatype":"FP32","shape":[` + strconv.Itoa(len(rows)) + `,30],"data":` + string(data) + `}]` + extra + `}`)
}

func TestTorchOIPServer(t *testing.T) {
	p := startTorch(t, "--model-name", "torch-a", "--model-name", "torch-b")
	c := &http.Client{Timeout: 10 * time.Second}
	samples := modelserver.Model().Samples()
	var rows [][]float64
	for _, s := range samples {
		rows = append(rows, s.Features)
	}

	t.Run("metadata and health", func(t *testing.T) {
		for path, want := range map[string]string{
			"/v2":                                 `"extensions":["binary_tensor_data"]`,
			"/v2/health/live":                     `{"live":true}`,
			"/v2/health/ready":                    `{"ready":true}`,
			"/v2/models/torch-b/ready":            `{"name":"torch-b","ready":true}`,
			"/v2/models/torch-a/versions/1":       `"inputs":[{"name":"input__0","datatype":"FP32","shape":[-1,30]}],"outputs":[{"name":"output__0","datatype":"FP32","shape":[-1,2]}]`,
			"/v2/models/torch-a/versions/1/ready": `"ready":true`,
		} {
			r := call(t, c, "GET", p.URL+path, nil, nil)
			if r.status != 200 || !strings.Contains(string(r.body), want) {
				t.Errorf("GET %s: %d %s, want %s", path, r.status, r.body, want)
			}
		}
	})

	var jsonProbs []float64
	t.Run("infer JSON", func(t *testing.T) {
		r := call(t, c, "POST", p.URL+"/v2/models/torch-a/infer", jsonRequest(t, rows, ""), nil)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var resp struct {
			ModelName string `json:"model_name"`
			ID        string `json:"id"`
			Outputs   []struct {
				Name  string    `json:"name"`
				Shape []int     `json:"shape"`
				Data  []float64 `json:"data"`
			} `json:"outputs"`
		}
		if err := json.Unmarshal(r.body, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.ModelName != "torch-a" || resp.ID != "r1" || len(resp.Outputs) != 1 || resp.Outputs[0].Name != "output__0" {
			t.Fatalf("response %s", r.body)
		}
		jsonProbs = resp.Outputs[0].Data
		if len(jsonProbs) != 2*len(rows) {
			t.Fatalf("%d values for %d rows", len(jsonProbs), len(rows))
		}
		// A trained model, not a constant: it gets the held-out sample rows
		// right (allowing one miss, as a 97%-accurate model may).
		right := 0
		for i, s := range samples {
			p0, p1 := jsonProbs[2*i], jsonProbs[2*i+1]
			if math.Abs(p0+p1-1) > 1e-5 {
				t.Errorf("row %d probabilities %v %v do not sum to 1", i, p0, p1)
			}
			if (p1 > p0) == (s.Label == "benign") {
				right++
			}
		}
		if right < len(samples)-1 {
			t.Errorf("only %d of %d sample rows classified right", right, len(samples))
		}
	})

	t.Run("infer binary tensors", func(t *testing.T) {
		var bin bytes.Buffer
		for _, r := range rows {
			for _, v := range r {
				_ = binary.Write(&bin, binary.LittleEndian, float32(v))
			}
		}
		head := []byte(`{"inputs":[{"name":"input__0","datatype":"FP32","shape":[` + strconv.Itoa(len(rows)) + `,30],"parameters":{"binary_data_size":` + strconv.Itoa(bin.Len()) + `}}],"outputs":[{"name":"output__0","parameters":{"binary_data":true}}]}`)
		r := call(t, c, "POST", p.URL+"/v2/models/torch-b/infer", append(head, bin.Bytes()...),
			map[string]string{"Inference-Header-Content-Length": strconv.Itoa(len(head)), "Content-Type": "application/octet-stream"})
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		n, err := strconv.Atoi(r.header.Get("Inference-Header-Content-Length"))
		if err != nil || n > len(r.body) {
			t.Fatalf("response header length %q", r.header.Get("Inference-Header-Content-Length"))
		}
		raw := r.body[n:]
		if !strings.Contains(string(r.body[:n]), `"binary_data_size":`+strconv.Itoa(len(raw))) || len(raw) != 8*len(rows) {
			t.Fatalf("binary response %s + %d bytes", r.body[:n], len(raw))
		}
		for i := range 2 * len(rows) {
			got := float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
			if jsonProbs != nil && math.Abs(got-jsonProbs[i]) > 1e-6 {
				t.Errorf("value %d: binary %v, JSON %v", i, got, jsonProbs[i])
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		one := [][]float64{rows[0]}
		cases := []struct {
			name, method, path string
			body               []byte
			hdr                map[string]string
			status             int
		}{
			{"unknown model", "POST", "/v2/models/nope/infer", jsonRequest(t, one, ""), nil, 404},
			{"unknown version", "GET", "/v2/models/torch-a/versions/2", nil, nil, 404},
			{"unknown path", "GET", "/v1/models", nil, nil, 404},
			{"wrong method", "POST", "/v2/models/torch-a", []byte(`{"x":1}`), nil, 405},
			{"bad json", "POST", "/v2/models/torch-a/infer", []byte(`{"inputs":`), nil, 400},
			{"wrong shape", "POST", "/v2/models/torch-a/infer", []byte(`{"inputs":[{"name":"input__0","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}`), nil, 400},
			{"wrong count", "POST", "/v2/models/torch-a/infer", []byte(`{"inputs":[{"name":"input__0","datatype":"FP32","shape":[1,30],"data":[1,2,3]}]}`), nil, 400},
			{"deep nesting", "POST", "/v2/models/torch-a/infer", []byte(`{"inputs":[{"name":"input__0","datatype":"FP32","shape":[1,30],"data":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}]}`), nil, 400},
			{"unknown output", "POST", "/v2/models/torch-a/infer", jsonRequest(t, one, `,"outputs":[{"name":"logits"}]`), nil, 400},
			{"bad binary size", "POST", "/v2/models/torch-a/infer", []byte(`{"inputs":[{"name":"input__0","datatype":"FP32","shape":[1,30],"parameters":{"binary_data_size":8}}]}12345678`), map[string]string{"Inference-Header-Content-Length": "97"}, 400},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := call(t, c, tc.method, p.URL+tc.path, tc.body, tc.hdr)
				var e map[string]string
				if r.status != tc.status || json.Unmarshal(r.body, &e) != nil || e["error"] == "" {
					t.Errorf("status %d, want %d, with an OIP error body: %s", r.status, tc.status, r.body)
				}
			})
		}
		// The same keep-alive client still works after every error above.
		if r := call(t, c, "GET", p.URL+"/v2/health/ready", nil, nil); r.status != 200 {
			t.Errorf("after errors: status %d %s", r.status, r.body)
		}
	})
}

func TestTorchWeightsRoundTrip(t *testing.T) {
	weights := t.TempDir() + "/mlp.pt"
	body := jsonRequest(t, [][]float64{modelserver.Model().Samples()[0].Features}, "")
	var outs []string
	for range 2 { // first run trains and saves, second loads
		p := startTorch(t, "--weights", weights)
		r := call(t, http.DefaultClient, "POST", p.URL+"/v2/models/breast-cancer-torch/infer", body, nil)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		outs = append(outs, string(r.body))
		_ = p.Stop()
	}
	if outs[0] != outs[1] {
		t.Errorf("loaded weights answer differently:\n%s\n%s", outs[0], outs[1])
	}
}

func TestStartReportsEarlyExit(t *testing.T) {
	_, err := Start(t.Context(), "sh", "-c", "echo boom >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Start of a failing command: %v", err)
	}
}
