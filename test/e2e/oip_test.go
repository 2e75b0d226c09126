package e2e

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const oipPolicies = `
@id("analysts-infer")
permit (principal in Rampart::Role::"analyst", action == Rampart::Action::"infer", resource is Rampart::Model)
when { resource.classification != "restricted" && principal.tenant == resource.tenant };

@id("read-metadata")
permit (principal, action == Rampart::Action::"read_metadata", resource)
when { principal.tenant == resource.tenant || resource.name == "" };

@id("health-for-all")
permit (principal, action == Rampart::Action::"health", resource);

@id("no-night-shift")
forbid (principal in Rampart::Role::"intern", action, resource)
when { context.auth_method == "apikey" };
`

func oipConfig(upstream string) string {
	return fmt.Sprintf(`
listen: {address: "127.0.0.1:0", max_header_bytes: 4096}
admin: {address: "127.0.0.1:0"}
log: {level: info}
audit: {dir: audit, flush_interval: 10ms}
identity:
  api_keys: {db: keys.db}
policies: [policies.cedar]
routes:
  - name: torch
    prefix: /v2
    protocol: oip
    upstream: %[1]q
    rate_limit: {per_second: 1000, burst: 1000}
    limits: {max_body_bytes: 65536, max_depth: 8}
    models:
      breast-cancer-torch:
        attributes: {classification: public, tenant: oncology}
        inputs_from_upstream: true
      secret-torch:
        attributes: {classification: restricted, tenant: oncology}
        inputs: [{name: input__0, datatype: FP32, shape: [-1, 30]}]
    stages:
      - type: tensor_range
        with: {min: -1000000, max: 1000000}
  - name: shadow
    prefix: /shadow
    strip_prefix: true
    protocol: oip
    upstream: %[1]q
    mode: monitor
    models:
      breast-cancer-torch:
        attributes: {classification: public, tenant: oncology}
        inputs: [{name: input__0, datatype: FP32, shape: [-1, 30]}]
    stages:
      - type: tensor_range
        with: {min: -1000000, max: 1000000}
  - name: slow-lane
    prefix: /limited
    strip_prefix: true
    protocol: oip
    upstream: %[1]q
    rate_limit: {per_second: 1, burst: 2}
    models:
      breast-cancer-torch:
        attributes: {classification: public, tenant: oncology}
`, upstream)
}

// row is a real benign sample's 30 raw features (sklearn breast-cancer row 19).
var row = []float64{13.54, 14.36, 87.46, 566.3, 0.09779, 0.08129, 0.06664, 0.04781, 0.1885, 0.05766, 0.2699, 0.7886, 2.058, 23.56, 0.008462, 0.0146, 0.02387, 0.01315, 0.0198, 0.0023, 15.11, 19.26, 99.7, 711.2, 0.144, 0.1773, 0.239, 0.1288, 0.2977, 0.07259}

func inferBody(name string, shape []int, data any) []byte {
	b, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": name, "datatype": "FP32", "shape": shape, "data": data}}})
	return b
}

func TestOIPDecisionPaths(t *testing.T) {
	torch := startTorch(t)
	dir := t.TempDir()
	writeFile(t, dir, "policies.cedar", oipPolicies)
	writeFile(t, dir, "rampart.yaml", oipConfig(torch.URL))
	db := filepath.Join(dir, "keys.db")
	analyst := createKey(t, db, "analyst", "oncology", "--role", "analyst")
	otherTenant := createKey(t, db, "outsider", "cardiology", "--role", "analyst")
	intern := createKey(t, db, "intern", "oncology", "--role", "analyst", "--role", "intern")
	g := startGateway(t, dir)

	good := inferBody("input__0", []int{1, 30}, row)
	infer := "/v2/models/breast-cancer-torch/infer"
	ids := map[string]string{}
	tests := []struct {
		name   string
		method string
		path   string
		key    string
		body   []byte
		hdr    []string
		status int
		errHas string
	}{
		{"allowed inference", "POST", infer, analyst, good, nil, 200, ""},
		{"model metadata", "GET", "/v2/models/breast-cancer-torch", analyst, nil, nil, 200, ""},
		{"server health", "GET", "/v2/health/ready", analyst, nil, nil, 200, ""},
		{"missing key", "POST", infer, "", good, nil, 401, "authentication required"},
		{"wrong key", "POST", infer, "rk_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", good, nil, 401, ""},
		{"garbage bearer", "POST", infer, "not a key", good, nil, 401, ""},
		{"other tenant denied", "POST", infer, otherTenant, good, nil, 403, "access denied"},
		{"restricted model denied", "POST", "/v2/models/secret-torch/infer", analyst, good, nil, 403, "access denied"},
		{"forbid overrides permit", "POST", infer, intern, good, nil, 403, "access denied"},
		{"undeclared model is denied without revealing whether it exists", "POST", "/v2/models/other/infer", analyst, good, nil, 403, "access denied"},
		{"unknown endpoint", "GET", "/v2/models/breast-cancer-torch/explode", analyst, nil, nil, 404, ""},
		{"no route", "GET", "/nothing-here", analyst, nil, nil, 404, ""},
		{"shape and data disagree", "POST", infer, analyst, inferBody("input__0", []int{1, 30}, row[:29]), nil, 400, "30"},
		{"wrong input name (from upstream metadata)", "POST", infer, analyst, inferBody("features", []int{1, 30}, row), nil, 400, ""},
		{"wrong width (from upstream metadata)", "POST", infer, analyst, inferBody("input__0", []int{1, 29}, row[:29]), nil, 400, ""},
		{"value out of configured range", "POST", infer, analyst, inferBody("input__0", []int{1, 30}, append([]float64{1e9}, row[1:]...)), nil, 400, "outside"},
		{"duplicate JSON keys", "POST", infer, analyst, []byte(`{"id":"a","id":"b","inputs":[{"name":"input__0","datatype":"FP32","shape":[1],"data":[1]}]}`), nil, 400, "duplicate"},
		{"invalid UTF-8", "POST", infer, analyst, []byte("{\"id\":\"\xff\xfe\",\"inputs\":[]}"), nil, 400, "UTF-8"},
		{"too deep", "POST", infer, analyst, []byte(`{"parameters":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{}}}}}}}}},"inputs":[]}`), nil, 413, "depth"},
		{"not JSON", "POST", infer, analyst, []byte(`inputs=1`), nil, 400, ""},
		{"oversized body", "POST", infer, analyst, []byte(`{"id":"` + strings.Repeat("a", 70000) + `"}`), nil, 413, ""},
		{"headers too large", "GET", "/v2/health/ready", analyst, nil, []string{"X-Junk", strings.Repeat("j", 16000)}, 431, ""},
		{"monitor mode lets a malformed tensor through", "POST", "/shadow/v2/models/breast-cancer-torch/infer", analyst, inferBody("input__0", []int{1, 29}, row[:29]), nil, 400, ""},
		{"monitor mode lets an out-of-range value through", "POST", "/shadow/v2/models/breast-cancer-torch/infer", analyst, inferBody("input__0", []int{1, 30}, append([]float64{1e9}, row[1:]...)), nil, 200, ""},
		{"monitor mode still requires a key", "POST", "/shadow/v2/models/breast-cancer-torch/infer", "", good, nil, 401, ""},
		{"monitor mode still enforces policy", "POST", "/shadow/v2/models/breast-cancer-torch/infer", otherTenant, good, nil, 403, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := g.do(tc.method, tc.path, tc.key, tc.body, tc.hdr...)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if tc.status == 431 {
				return // answered by net/http before the handler
			}
			id := r.Header.Get("X-Request-Id")
			if id == "" {
				t.Fatal("no X-Request-Id")
			}
			ids[tc.name] = id
			if r.Header.Get("X-Rampart-Overhead-Us") == "" {
				t.Error("no overhead header")
			}
			if tc.status >= 400 && tc.path != "/nothing-here" && tc.name != "monitor mode lets a malformed tensor through" {
				m := r.json(t)
				msg, ok := m["error"].(string)
				if !ok {
					t.Fatalf("error body is not OIP's {\"error\": string}: %s", r.Body)
				}
				if !strings.Contains(msg, tc.errHas) {
					t.Errorf("error %q does not mention %q", msg, tc.errHas)
				}
				for _, leak := range []string{"analysts-infer", "no-night-shift", "policies.cedar", "127.0.0.1"} {
					if strings.Contains(msg, leak) {
						t.Errorf("error leaks internals (%s): %s", leak, msg)
					}
				}
			}
			if tc.status == 200 && tc.path == infer {
				m := r.json(t)
				outs, _ := m["outputs"].([]any)
				if len(outs) == 0 {
					t.Fatalf("no outputs: %s", r.Body)
				}
			}
		})
	}

	t.Run("rate limit answers 429 with Retry-After", func(t *testing.T) {
		codes := map[int]int{}
		retry := ""
		for range 6 {
			r := g.do("POST", "/limited/v2/models/breast-cancer-torch/infer", analyst, good)
			codes[r.Status]++
			if r.Status == 429 {
				retry = r.Header.Get("Retry-After")
				if _, ok := r.json(t)["error"].(string); !ok {
					t.Fatalf("429 body not in OIP format: %s", r.Body)
				}
			}
		}
		if codes[200] < 1 || codes[200] > 3 || codes[429] < 3 {
			t.Fatalf("codes %v: want about 2 allowed and the rest throttled", codes)
		}
		if n, err := strconv.Atoi(retry); err != nil || n < 1 {
			t.Fatalf("Retry-After %q", retry)
		}
	})

	t.Run("Triton binary tensors pass with their size checks", func(t *testing.T) {
		bin := func(vals []float64) []byte {
			b := make([]byte, 0, 4*len(vals))
			for _, v := range vals {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v)))
			}
			return b
		}
		send := func(declared int, data []byte) response {
			hdr := fmt.Sprintf(`{"inputs":[{"name":"input__0","datatype":"FP32","shape":[1,30],"parameters":{"binary_data_size":%d}}]}`, declared)
			return g.do("POST", infer, analyst, append([]byte(hdr), data...), "Inference-Header-Content-Length", strconv.Itoa(len(hdr)),
				"Content-Type", "application/octet-stream")
		}
		if r := send(120, bin(row)); r.Status != 200 {
			t.Fatalf("binary request: %d %s", r.Status, r.Body)
		}
		if r := send(120, bin(row[:29])); r.Status != 400 {
			t.Fatalf("short binary data: %d %s", r.Status, r.Body)
		}
		if r := send(116, bin(row[:29])); r.Status != 400 {
			t.Fatalf("binary size that does not match the shape: %d %s", r.Status, r.Body)
		}
	})

	t.Run("request smuggling is refused on the wire", func(t *testing.T) {
		host := strings.TrimPrefix(g.URL, "http://")
		for name, raw := range map[string]string{
			"CL.TE":   "POST " + infer + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + analyst + "\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			"bare LF": "GET /v2/health/ready HTTP/1.1\nHost: x\nAuthorization: Bearer " + analyst + "\n\n",
		} {
			c, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.WriteString(c, raw)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			c.Close()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if resp.StatusCode != 400 {
				t.Fatalf("%s: status %d, want 400", name, resp.StatusCode)
			}
		}
	})

	t.Run("h2c upgrade is not forwarded", func(t *testing.T) {
		r := g.do("GET", "/v2/health/ready", analyst, nil, "Connection", "Upgrade, HTTP2-Settings", "Upgrade", "h2c", "HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")
		if r.Status != 200 || r.Header.Get("Upgrade") != "" {
			t.Fatalf("status %d upgrade %q", r.Status, r.Header.Get("Upgrade"))
		}
	})

	m := g.metrics()
	for _, want := range []string{
		`rampart_requests_total{decision="allow",model="breast-cancer-torch",reason="",route="torch"}`,
		`reason="forbidden"`, `reason="unauthenticated"`, `reason="rate_limited"`,
		"rampart_gateway_seconds_bucket", "rampart_upstream_seconds_bucket", "rampart_audit_backlog",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, `model="other-`) {
		t.Error("unbounded model label")
	}

	g.stop()
	out, errOut, code := rampart(t, "audit", "verify", "--dir", filepath.Join(dir, "audit"))
	if code != 0 {
		t.Fatalf("audit verify exit %d: %s %s", code, out, errOut)
	}
	recs := auditRecords(t, filepath.Join(dir, "audit"))
	checks := map[string][2]string{ // test name -> decision, a reason kind
		"allowed inference":       {"allow", ""},
		"missing key":             {"block", "unauthenticated"},
		"other tenant denied":     {"block", "forbidden"},
		"forbid overrides permit": {"block", "forbidden"},
		"undeclared model is denied without revealing whether it exists": {"block", "forbidden"},
		"shape and data disagree":                         {"block", "decode"},
		"monitor mode lets an out-of-range value through": {"block", "out_of_range"},
		"monitor mode still requires a key":               {"block", "unauthenticated"},
	}
	for name, want := range checks {
		rec := recordByID(recs, ids[name])
		if rec == nil {
			t.Errorf("%s: no audit record for request %s", name, ids[name])
			continue
		}
		if rec["decision"] != want[0] {
			t.Errorf("%s: audit decision %v, want %s", name, rec["decision"], want[0])
		}
		if want[1] != "" && !strings.Contains(fmt.Sprint(rec["reasons"]), want[1]) {
			t.Errorf("%s: audit reasons %v lack %s", name, rec["reasons"], want[1])
		}
		if strings.Contains(fmt.Sprint(rec), analyst) {
			t.Errorf("%s: audit record holds the API key", name)
		}
	}
	if rec := recordByID(recs, ids["monitor mode lets an out-of-range value through"]); rec != nil && (rec["enforced"] != false || rec["upstream_status"] != float64(200)) {
		t.Errorf("monitor-mode record says enforced: %v", rec)
	}
	if rec := recordByID(recs, ids["allowed inference"]); rec != nil {
		if rec["upstream_status"] != float64(200) || rec["principal"] == "" || rec["payload_hash"] == "" || rec["payload"] != nil {
			t.Errorf("allowed record incomplete or holds the payload: %v", rec)
		}
	}
	if strings.Contains(g.Logs(), analyst) {
		t.Error("gateway logs hold an API key")
	}
}
