// Package modelserver is a small, real model server for Rampart's demo and
// end-to-end tests: it serves the breast-cancer logistic regression trained by
// scripts/train_demo_model.py over the Open Inference Protocol v2 REST API
// (KServe v2 / Triton HTTP), in pure Go, with no Python at run time.
//
// Contract: New builds an http.Handler that answers the OIP v2 endpoints
//
//	GET  /v2                                         server metadata
//	GET  /v2/health/live, /v2/health/ready           health
//	GET  /v2/models/{name}[/versions/{v}]            model metadata
//	GET  /v2/models/{name}[/versions/{v}]/ready      model readiness
//	POST /v2/models/{name}[/versions/{v}]/infer      inference
//
// for every configured model name (all share the same weights, so a policy
// can allow one name and forbid another). Inference takes one FP32 or FP64
// input "features" of shape [n, 30], as JSON data (flat or nested) or as
// Triton binary tensor data, and returns "probabilities" (FP32 [n, 2]) and
// "label" (BYTES [n]). Every failure is an OIP error body {"error": "..."}
// with status 400, 404, 405 or 413; the handler never answers 5xx for bad
// input. Request bodies and batch sizes are bounded.
//
// Serve and ListenAndAnnounce run any handler (this one or
// openaisrv's) with sane timeouts until a context ends; ListenAndAnnounce
// prints "READY port=N" so a parent process or test can find the port.
package modelserver

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// DefaultModels are the names served when Options.Models is empty. The
// second exists so that demos can show a policy that forbids one model while
// allowing an otherwise identical one.
var DefaultModels = []string{"breast-cancer", "breast-cancer-restricted"}

// Names of the tensors the model takes and returns.
const (
	InputName         = "features"
	OutputProbs       = "probabilities"
	OutputLabel       = "label"
	platform          = "rampart_go_logistic_regression"
	binaryHeader      = "Inference-Header-Content-Length"
	defaultMaxBody    = 8 << 20
	defaultMaxBatch   = 4096
	defaultSrvName    = "rampart-demo-modelserver"
	defaultSrvVersion = "0.1.0"
)

// Options configure New. The zero value serves DefaultModels.
type Options struct {
	// Models are the model names served; each shares Model's weights.
	Models []string
	// Model is the model served; nil means the embedded demo model.
	Model *LogisticModel
	// ServerName and ServerVersion are reported by GET /v2.
	ServerName, ServerVersion string
	// MaxBodyBytes bounds a request body (default 8 MiB).
	MaxBodyBytes int64
	// MaxBatch bounds the rows in one inference request (default 4096).
	MaxBatch int
}

var modelNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

type server struct {
	opts   Options
	model  *LogisticModel
	models map[string]bool
}

// New returns the OIP v2 handler for opts.
func New(opts Options) (http.Handler, error) {
	if len(opts.Models) == 0 {
		opts.Models = DefaultModels
	}
	if opts.Model == nil {
		opts.Model = Model()
	} else {
		if err := opts.Model.validate(); err != nil {
			return nil, fmt.Errorf("modelserver: invalid model: %w", err)
		}
		opts.Model = opts.Model.clone()
	}
	if opts.ServerName == "" {
		opts.ServerName = defaultSrvName
	}
	if opts.ServerVersion == "" {
		opts.ServerVersion = defaultSrvVersion
	}
	switch {
	case opts.MaxBodyBytes < 0 || opts.MaxBatch < 0:
		return nil, errors.New("modelserver: MaxBodyBytes and MaxBatch must not be negative")
	case opts.MaxBodyBytes == 0:
		opts.MaxBodyBytes = defaultMaxBody
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = defaultMaxBatch
	}
	s := &server{opts: opts, model: opts.Model, models: map[string]bool{}}
	for _, n := range opts.Models {
		if !modelNameRE.MatchString(n) {
			return nil, fmt.Errorf("modelserver: invalid model name %q (want letters, digits, '_', '.', '-')", n)
		}
		if s.models[n] {
			return nil, fmt.Errorf("modelserver: model name %q listed twice", n)
		}
		s.models[n] = true
	}
	return s, nil
}

// route is a parsed /v2 path.
type route struct {
	kind          string // server, live, ready, model, model_ready, infer
	name, version string
}

func parsePath(escaped string) (route, bool) {
	rest, ok := strings.CutPrefix(escaped, "/v2")
	if !ok {
		return route{}, false
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return route{kind: "server"}, true
	}
	if !strings.HasPrefix(rest, "/") {
		return route{}, false
	}
	segs := strings.Split(rest[1:], "/")
	for i, sg := range segs {
		u, err := url.PathUnescape(sg)
		if err != nil || u == "" {
			return route{}, false
		}
		segs[i] = u
	}
	if len(segs) == 2 && segs[0] == "health" {
		switch segs[1] {
		case "live":
			return route{kind: "live"}, true
		case "ready":
			return route{kind: "ready"}, true
		}
		return route{}, false
	}
	if segs[0] != "models" || len(segs) < 2 {
		return route{}, false
	}
	r := route{name: segs[1]}
	segs = segs[2:]
	if len(segs) >= 2 && segs[0] == "versions" {
		r.version = segs[1]
		segs = segs[2:]
	}
	switch {
	case len(segs) == 0:
		r.kind = "model"
	case len(segs) == 1 && segs[0] == "ready":
		r.kind = "model_ready"
	case len(segs) == 1 && segs[0] == "infer":
		r.kind = "infer"
	default:
		return route{}, false
	}
	return r, true
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := parsePath(r.URL.EscapedPath())
	if !ok {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	want := http.MethodGet
	if rt.kind == "infer" {
		want = http.MethodPost
	}
	if r.Method != want && !(want == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", want)
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed, use "+want)
		return
	}
	if rt.name != "" && !s.known(rt) {
		msg := fmt.Sprintf("model %q is not found", clip(rt.name))
		if rt.version != "" {
			msg = fmt.Sprintf("model %q version %q is not found", clip(rt.name), clip(rt.version))
		}
		writeError(w, http.StatusNotFound, msg)
		return
	}
	switch rt.kind {
	case "server":
		writeJSON(w, http.StatusOK, map[string]any{
			"name":       s.opts.ServerName,
			"version":    s.opts.ServerVersion,
			"extensions": []string{"binary_tensor_data"},
		})
	case "live":
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	case "ready":
		writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
	case "model_ready":
		writeJSON(w, http.StatusOK, map[string]any{"name": rt.name, "ready": true})
	case "model":
		writeJSON(w, http.StatusOK, s.metadata(rt.name))
	case "infer":
		s.infer(w, r, rt.name)
	}
}

func (s *server) known(rt route) bool {
	return s.models[rt.name] && (rt.version == "" || rt.version == s.model.Version)
}

// clip keeps echoed, client-chosen names short in error messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

type tensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

func (s *server) metadata(name string) map[string]any {
	n := int64(s.model.NumFeatures())
	return map[string]any{
		"name":     name,
		"versions": []string{s.model.Version},
		"platform": platform,
		"inputs":   []tensorMeta{{InputName, "FP32", []int64{-1, n}}},
		"outputs": []tensorMeta{
			{OutputProbs, "FP32", []int64{-1, 2}},
			{OutputLabel, "BYTES", []int64{-1}},
		},
	}
}

// InferRequest is the OIP v2 inference request body (its JSON part).
type InferRequest struct {
	ID         string          `json:"id,omitempty"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Inputs     []RequestInput  `json:"inputs"`
	Outputs    []RequestOutput `json:"outputs,omitempty"`
}

// RequestInput is one input tensor of an InferRequest.
type RequestInput struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
}

// RequestOutput names an output the client wants.
type RequestOutput struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// InferResponse is the OIP v2 inference response body.
type InferResponse struct {
	ModelName    string           `json:"model_name"`
	ModelVersion string           `json:"model_version"`
	ID           string           `json:"id,omitempty"`
	Outputs      []ResponseOutput `json:"outputs"`
}

// ResponseOutput is one output tensor; Data is []float32 or []string.
type ResponseOutput struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
	Data     any     `json:"data"`
}

// badRequest is an error whose message is safe to return to the client.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func bad(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

func (s *server) infer(w http.ResponseWriter, r *http.Request, name string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", tooBig.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, "cannot read request body")
		return
	}
	resp, err := s.run(name, body, r.Header.Get(binaryHeader))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// run answers one inference request body for model name. headerLen is the
// Inference-Header-Content-Length header ("" for a pure JSON body). Errors
// are client errors whose text is safe to return.
func (s *server) run(name string, body []byte, headerLen string) (*InferResponse, error) {
	jsonPart, binPart := body, []byte(nil)
	if headerLen != "" {
		n, err := strconv.Atoi(strings.TrimSpace(headerLen))
		if err != nil || n < 0 || n > len(body) {
			return nil, bad("%s must be an integer between 0 and the body length", binaryHeader)
		}
		jsonPart, binPart = body[:n], body[n:]
	}
	var req InferRequest
	dec := json.NewDecoder(bytes.NewReader(jsonPart))
	if err := dec.Decode(&req); err != nil {
		return nil, bad("invalid inference request JSON: %s", jsonErrorText(err))
	}
	if dec.More() {
		return nil, bad("invalid inference request JSON: data after the request object")
	}
	if len(req.Inputs) != 1 {
		return nil, bad("expected exactly 1 input %q, got %d", InputName, len(req.Inputs))
	}
	in := req.Inputs[0]
	features, rows, err := s.decodeInput(in, binPart)
	if err != nil {
		return nil, err
	}
	wantProbs, wantLabel := len(req.Outputs) == 0, len(req.Outputs) == 0
	for _, o := range req.Outputs {
		switch o.Name {
		case OutputProbs:
			wantProbs = true
		case OutputLabel:
			wantLabel = true
		default:
			return nil, bad("unknown output %q (outputs are %q and %q)", clip(o.Name), OutputProbs, OutputLabel)
		}
	}
	nf := s.model.NumFeatures()
	probs := make([]float32, 0, 2*rows)
	labels := make([]string, 0, rows)
	for i := range rows {
		p := s.model.Predict(features[i*nf : (i+1)*nf])
		probs = append(probs, float32(p[0]), float32(p[1]))
		labels = append(labels, s.model.Label(p))
	}
	resp := &InferResponse{ModelName: name, ModelVersion: s.model.Version, ID: req.ID, Outputs: []ResponseOutput{}}
	for _, o := range outputOrder(req.Outputs) {
		switch {
		case o == OutputProbs && wantProbs:
			resp.Outputs = append(resp.Outputs, ResponseOutput{OutputProbs, "FP32", []int64{int64(rows), 2}, probs})
		case o == OutputLabel && wantLabel:
			resp.Outputs = append(resp.Outputs, ResponseOutput{OutputLabel, "BYTES", []int64{int64(rows)}, labels})
		}
	}
	return resp, nil
}

// outputOrder is the order outputs are returned in: the client's, or the
// model's declared order when the client named none.
func outputOrder(req []RequestOutput) []string {
	if len(req) == 0 {
		return []string{OutputProbs, OutputLabel}
	}
	seen := map[string]bool{}
	var out []string
	for _, o := range req {
		if !seen[o.Name] {
			seen[o.Name] = true
			out = append(out, o.Name)
		}
	}
	return out
}

// decodeInput checks the input tensor against the model's signature and
// returns its values row-major.
func (s *server) decodeInput(in RequestInput, bin []byte) ([]float64, int, error) {
	nf := s.model.NumFeatures()
	if in.Name != InputName {
		return nil, 0, bad("unknown input %q, expected %q", clip(in.Name), InputName)
	}
	if in.Datatype != "FP32" && in.Datatype != "FP64" {
		return nil, 0, bad("input %q has datatype %q, expected FP32 or FP64", InputName, clip(in.Datatype))
	}
	if len(in.Shape) != 2 || in.Shape[1] != int64(nf) || in.Shape[0] < 0 {
		return nil, 0, bad("input %q has shape %v, expected [n, %d]", InputName, in.Shape, nf)
	}
	if in.Shape[0] > int64(s.opts.MaxBatch) {
		return nil, 0, bad("batch of %d rows exceeds the limit of %d", in.Shape[0], s.opts.MaxBatch)
	}
	rows := int(in.Shape[0])
	want := rows * nf
	var vals []float64
	size, hasBinary, err := binarySize(in.Parameters)
	if err != nil {
		return nil, 0, err
	}
	if hasBinary {
		if len(in.Data) > 0 {
			return nil, 0, bad("input %q has both data and binary_data_size", InputName)
		}
		if vals, err = decodeBinary(bin, size, in.Datatype, want); err != nil {
			return nil, 0, err
		}
	} else {
		if len(bin) > 0 {
			return nil, 0, bad("binary data after the JSON header is not claimed by any input")
		}
		if len(in.Data) == 0 {
			return nil, 0, bad("input %q needs data or binary_data_size", InputName)
		}
		var data any
		if err := json.Unmarshal(in.Data, &data); err != nil {
			return nil, 0, bad("input %q data: %s", InputName, jsonErrorText(err))
		}
		vals = make([]float64, 0, want)
		if vals, err = flatten(data, vals, want); err != nil {
			return nil, 0, err
		}
		if len(vals) != want {
			return nil, 0, bad("input %q has %d values, shape %v needs %d", InputName, len(vals), in.Shape, want)
		}
	}
	for i, v := range vals {
		if in.Datatype == "FP32" {
			v = float64(float32(v))
			vals[i] = v
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, 0, bad("input %q value %d is not a finite %s number", InputName, i, in.Datatype)
		}
	}
	return vals, rows, nil
}

func binarySize(params map[string]any) (int, bool, error) {
	v, ok := params["binary_data_size"]
	if !ok {
		return 0, false, nil
	}
	f, isNum := v.(float64)
	if !isNum || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, false, bad("binary_data_size must be a non-negative integer")
	}
	return int(f), true, nil
}

func decodeBinary(bin []byte, size int, datatype string, want int) ([]float64, error) {
	width := 4
	if datatype == "FP64" {
		width = 8
	}
	if size != len(bin) {
		return nil, bad("binary_data_size is %d but %d bytes follow the JSON header", size, len(bin))
	}
	if size != want*width {
		return nil, bad("binary data has %d bytes, shape and datatype need %d", size, want*width)
	}
	vals := make([]float64, want)
	for i := range vals {
		if width == 4 {
			vals[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(bin[4*i:])))
		} else {
			vals[i] = math.Float64frombits(binary.LittleEndian.Uint64(bin[8*i:]))
		}
	}
	return vals, nil
}

// flatten appends the numbers of a (possibly nested) JSON array in row-major
// order, refusing anything but numbers and stopping once more than limit
// values are seen so a huge array cannot grow vals without bound.
func flatten(v any, vals []float64, limit int) ([]float64, error) {
	switch t := v.(type) {
	case float64:
		if len(vals) >= limit {
			return nil, bad("input %q has more values than its shape allows", InputName)
		}
		return append(vals, t), nil
	case []any:
		var err error
		for _, e := range t {
			if vals, err = flatten(e, vals, limit); err != nil {
				return nil, err
			}
		}
		return vals, nil
	case nil:
		return nil, bad("input %q needs data", InputName)
	default:
		return nil, bad("input %q data must contain only numbers", InputName)
	}
}

// jsonErrorText keeps decoder errors useful without echoing request bytes.
func jsonErrorText(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	default:
		return "malformed JSON"
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
