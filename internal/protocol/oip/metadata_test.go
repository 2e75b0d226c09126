package oip

import (
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rampart-ai/rampart"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestParseModelMetadata(t *testing.T) {
	good := `{"name":"resnet","versions":["1","2"],"platform":"onnxruntime_onnx","extra":{"k":[1]},
		"inputs":[{"name":"x","datatype":"FP32","shape":[-1,3,224,224],"parameters":{}}],
		"outputs":[{"name":"y","datatype":"FP32","shape":[-1,1000]}]}`
	md, err := ParseModelMetadata([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := ModelMetadata{Name: "resnet", Versions: []string{"1", "2"}, Platform: "onnxruntime_onnx",
		Inputs:  []TensorSpec{{Name: "x", Datatype: "FP32", Shape: []int64{-1, 3, 224, 224}}},
		Outputs: []TensorSpec{{Name: "y", Datatype: "FP32", Shape: []int64{-1, 1000}}}}
	if !reflect.DeepEqual(md, want) {
		t.Errorf("got %+v\nwant %+v", md, want)
	}

	bad := []struct{ name, body, msg string }{
		{"not object", `[]`, "must be a JSON object"},
		{"no name", `{"inputs":[]}`, "has no name"},
		{"name not string", `{"name":1}`, "name must be a string"},
		{"versions not array", `{"name":"m","versions":"1"}`, "versions must be an array"},
		{"version not string", `{"name":"m","versions":[1]}`, "versions[0] must be a string"},
		{"inputs not array", `{"name":"m","inputs":{}}`, "inputs must be an array"},
		{"tensor not object", `{"name":"m","inputs":[1]}`, "inputs[0] must be an object"},
		{"tensor no name", `{"name":"m","inputs":[{"datatype":"FP32","shape":[1]}]}`, "inputs[0] has no name"},
		{"tensor no datatype", `{"name":"m","inputs":[{"name":"x","shape":[1]}]}`, "has no datatype"},
		{"tensor bad datatype", `{"name":"m","inputs":[{"name":"x","datatype":"F","shape":[1]}]}`, `unknown datatype "F"`},
		{"tensor no shape", `{"name":"m","inputs":[{"name":"x","datatype":"FP32"}]}`, "has no shape"},
		{"shape bad dim", `{"name":"m","inputs":[{"name":"x","datatype":"FP32","shape":[-2]}]}`, "is not -1 or a non-negative integer"},
		{"shape not ints", `{"name":"m","inputs":[{"name":"x","datatype":"FP32","shape":["1"]}]}`, "must hold integers"},
		{"shape not array", `{"name":"m","inputs":[{"name":"x","datatype":"FP32","shape":1}]}`, "shape must be an array"},
		{"duplicate tensor", `{"name":"m","outputs":[{"name":"x","datatype":"FP32","shape":[1]},{"name":"x","datatype":"FP32","shape":[1]}]}`, `declares "x" twice`},
		{"duplicate key", `{"name":"m","name":"n"}`, "duplicate object key"},
		{"trailing", `{"name":"m"} x`, "trailing data"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseModelMetadata([]byte(tc.body))
			checkErr(t, err, rampart.CodeInvalid, tc.msg)
		})
	}
}

func TestValidateInputs(t *testing.T) {
	spec := []TensorSpec{
		{Name: "x", Datatype: "FP32", Shape: []int64{-1, 3}},
		{Name: "mask", Datatype: "BOOL", Shape: []int64{-1}},
	}
	tensor := func(name, dt string, shape []int64, nans, infs int) rampart.Tensor {
		return rampart.Tensor{Name: name, Datatype: dt, Shape: shape, NaNs: nans, Infs: infs}
	}
	cases := []struct {
		name    string
		tensors []rampart.Tensor
		nan     NaNPolicy
		kinds   []string
	}{
		{"valid", []rampart.Tensor{tensor("x", "FP32", []int64{5, 3}, 0, 0), tensor("mask", "BOOL", []int64{5}, 0, 0)}, NaNReject, nil},
		{"unknown and missing", []rampart.Tensor{tensor("x", "FP32", []int64{1, 3}, 0, 0), tensor("evil", "BOOL", []int64{1}, 0, 0)}, NaNReject,
			[]string{"unknown_input", "missing_input"}},
		{"datatype", []rampart.Tensor{tensor("x", "FP64", []int64{1, 3}, 0, 0), tensor("mask", "BOOL", []int64{1}, 0, 0)}, NaNReject, []string{"datatype_mismatch"}},
		{"shape rank", []rampart.Tensor{tensor("x", "FP32", []int64{3}, 0, 0), tensor("mask", "BOOL", []int64{1}, 0, 0)}, NaNReject, []string{"shape_mismatch"}},
		{"shape dim", []rampart.Tensor{tensor("x", "FP32", []int64{1, 4}, 0, 0), tensor("mask", "BOOL", []int64{1}, 0, 0)}, NaNReject, []string{"shape_mismatch"}},
		{"nan rejected", []rampart.Tensor{tensor("x", "FP32", []int64{1, 3}, 1, 1), tensor("mask", "BOOL", []int64{1}, 0, 0)}, NaNReject, []string{"nan_inf"}},
		{"nan unknown policy rejects", []rampart.Tensor{tensor("x", "FP32", []int64{1, 3}, 0, 2), tensor("mask", "BOOL", []int64{1}, 0, 0)}, "", []string{"nan_inf"}},
		{"nan allowed", []rampart.Tensor{tensor("x", "FP32", []int64{1, 3}, 1, 1), tensor("mask", "BOOL", []int64{1}, 0, 0)}, NaNAllow, nil},
		{"empty request", nil, NaNReject, []string{"missing_input", "missing_input"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inf := &rampart.Inference{Tensors: tc.tensors}
			fs := ValidateInputs(inf, spec, tc.nan)
			var kinds []string
			for _, f := range fs {
				kinds = append(kinds, f.Kind)
				if f.Detector != DetectorSchema || f.Verdict != rampart.VerdictBlock || f.Code != rampart.CodeInvalid || f.Reason == "" {
					t.Errorf("finding %+v", f)
				}
				if f.Severity < rampart.SeverityMedium {
					t.Errorf("severity %v", f.Severity)
				}
			}
			if !reflect.DeepEqual(kinds, tc.kinds) {
				t.Errorf("kinds %v, want %v", kinds, tc.kinds)
			}
			if d := rampart.Decide(rampart.ModeEnforce, fs); d.Refused() != (len(tc.kinds) > 0) {
				t.Errorf("decision %+v", d)
			}
		})
	}
}

func TestWriteErrorGolden(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, http.StatusBadRequest, `input "x": shape [2,3] needs 6 elements, data has 5`, "req-123")
	if rec.Code != 400 || rec.Header().Get("X-Request-Id") != "req-123" || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("status %d headers %v", rec.Code, rec.Header())
	}
	golden(t, "error.golden", rec.Body.Bytes())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}
