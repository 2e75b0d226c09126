package keras

import (
	"context"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

func scan(t *testing.T, doc string, pol *modelscan.Policy) modelscan.Result {
	t.Helper()
	e := modelscan.New(modelscan.DefaultLimits(), pol, New())
	res, err := e.Scan(context.Background(), "config.json", strings.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

const sequential = `{"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
  {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 4]}, "registered_name": null},
  {"module": "keras.layers", "class_name": "Dense", "config": {"units": 3, "activation": "relu"}, "registered_name": null}%s]},
  "compile_config": {"loss": {"module": "keras.losses", "class_name": "MeanSquaredError", "config": {}}}}`

func TestKerasConfigs(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		verdict  modelscan.Verdict
		rule     string
		callable string
	}{
		{"plain Keras 3 model", strings.Replace(sequential, "%s", "", 1), modelscan.Clean, "", ""},
		{"Keras 2 model without modules", `{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"units": 2}}]}, "keras_version": "2.15.0", "backend": "tensorflow"}`, modelscan.Clean, "", ""},
		{"not a Keras config", `{"vocab_size": 32000, "architectures": ["LlamaForCausalLM"]}`, modelscan.Clean, "", ""},
		{"Lambda layer", strings.Replace(sequential, "%s", `, {"module": "keras.layers", "class_name": "Lambda", "config": {"function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA"}}}}`, 1), modelscan.Unsafe, "keras.lambda", "keras.layers.Lambda"},
		{"Keras 2 Lambda", `{"class_name": "Model", "config": {"layers": [{"class_name": "Lambda", "config": {"function": ["4wEAAAAA", null, null], "function_type": "lambda"}}]}}`, modelscan.Unsafe, "keras.lambda", "Lambda"},
		{"TFSMLayer", strings.Replace(sequential, "%s", `, {"module": "keras.layers", "class_name": "TFSMLayer", "config": {"filepath": "/tmp/x"}}`, 1), modelscan.Unsafe, "keras.tfsmlayer", ""},
		{"activation from os", strings.Replace(strings.Replace(sequential, "%s", "", 1), `"activation": "relu"`, `"activation": {"module": "os", "class_name": "function", "config": "system"}`, 1), modelscan.Unsafe, "keras.dangerous-import", "os.system"},
		{"builtins eval", strings.Replace(sequential, "%s", `, {"module": "builtins", "class_name": "function", "config": "eval"}`, 1), modelscan.Unsafe, "keras.dangerous-import", "builtins.eval"},
		{"class from subprocess", strings.Replace(sequential, "%s", `, {"module": "subprocess", "class_name": "Popen", "config": {}}`, 1), modelscan.Unsafe, "keras.dangerous-import", "subprocess.Popen"},
		{"custom layer", strings.Replace(sequential, "%s", `, {"module": "acme.layers", "class_name": "Gated", "config": {}}`, 1), modelscan.Suspicious, "keras.custom-object", "acme.layers.Gated"},
		{"safe mode off", `{"module": "keras", "class_name": "Sequential", "config": {"layers": []}, "safe_mode": false}`, modelscan.Unsafe, "keras.safe-mode-off", ""},
		{"truncated", `{"module": "keras", "class_name": "Sequ`, modelscan.Unscannable, "json.invalid", ""},
		{"trailing data", `{"a": 1} {"b": 2}`, modelscan.Unscannable, "json.trailing-data", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := scan(t, tc.doc, nil)
			if res.Verdict != tc.verdict {
				t.Fatalf("verdict %s, want %s: %+v", res.Verdict, tc.verdict, res.Findings)
			}
			if tc.rule == "" {
				return
			}
			for _, f := range res.Findings {
				if f.Rule == tc.rule && (tc.callable == "" || f.Callable == tc.callable) {
					return
				}
			}
			t.Fatalf("no %s finding naming %q: %+v", tc.rule, tc.callable, res.Findings)
		})
	}
}

func TestPolicyAllowsCustomLayers(t *testing.T) {
	doc := strings.Replace(sequential, "%s", `, {"module": "acme.layers", "class_name": "Gated", "config": {}}`, 1)
	if res := scan(t, doc, &modelscan.Policy{Allow: []string{"acme.layers.*"}}); res.Verdict != modelscan.Clean {
		t.Fatalf("allowlisted custom layer: %s", res.Verdict)
	}
	evil := strings.Replace(sequential, "%s", `, {"module": "os", "class_name": "function", "config": "system"}`, 1)
	if res := scan(t, evil, &modelscan.Policy{Allow: []string{"os.*"}}); res.Verdict != modelscan.Unsafe {
		t.Fatalf("a policy made os.system acceptable: %s", res.Verdict)
	}
}

func FuzzKerasJSON(f *testing.F) {
	f.Add(strings.Replace(sequential, "%s", "", 1))
	f.Add(`[[[[[[{"class_name": "Lambda"}]]]]]]`)
	f.Fuzz(func(t *testing.T, doc string) {
		e := modelscan.New(modelscan.DefaultLimits(), nil, New())
		if _, err := e.Scan(context.Background(), "f.json", strings.NewReader(doc), int64(len(doc))); err != nil {
			t.Fatal(err)
		}
	})
}
