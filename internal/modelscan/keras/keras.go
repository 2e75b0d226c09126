// Package keras judges JSON documents found in model files: Keras model
// configs (config.json inside a .keras archive, or the model_config of an
// older Keras save) and any other JSON data next to a model.
//
// Keras rebuilds a model from its config by importing the module and class
// each layer names. So a config can run code without any pickle:
//
//   - a Lambda layer (or a "__lambda__" function) carries serialized Python
//     bytecode that runs when the model is loaded: UNSAFE;
//   - a TFSMLayer loads a TensorFlow SavedModel from a path: UNSAFE;
//   - a layer or function whose module is outside Keras is imported by name:
//     UNSAFE when the name is known to be dangerous (os.system, builtins.eval,
//     subprocess…), SUSPICIOUS otherwise (a custom object the team may
//     allowlist with a policy);
//   - "safe_mode": false turns off Keras's own refusal of lambdas: UNSAFE.
//
// JSON that is not a Keras config is data: CLEAN once it parses strictly.
// JSON that does not parse is UNSCANNABLE.
package keras

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

// maxJSON bounds a config document; real configs are kilobytes.
const maxJSON = 64 << 20

type analyzer struct{}

// New returns the analyzer.
func New() modelscan.Analyzer { return analyzer{} }

func (analyzer) Name() string { return "json" }

// Match claims content that starts, after whitespace, with a JSON object
// or array.
func (analyzer) Match(head []byte) bool {
	for _, c := range head {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

func (analyzer) Analyze(ctx context.Context, in *modelscan.Input) ([]modelscan.Finding, error) {
	if in.Size > maxJSON {
		return []modelscan.Finding{{Verdict: modelscan.Unscannable, Severity: rampart.SeverityMedium, Rule: "json.too-large",
			Message: fmt.Sprintf("JSON document of %d bytes exceeds %d", in.Size, maxJSON), Offset: -1}}, nil
	}
	if err := in.Charge(in.Size); err != nil {
		return nil, err
	}
	b := make([]byte, in.Size)
	if _, err := in.R.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", in.Name, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		off := dec.InputOffset()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		return []modelscan.Finding{{Verdict: modelscan.Unscannable, Severity: rampart.SeverityMedium, Rule: "json.invalid",
			Message: "JSON does not parse: " + err.Error(), Offset: off}}, nil
	}
	if _, err := dec.Token(); err != io.EOF {
		return []modelscan.Finding{{Verdict: modelscan.Unscannable, Severity: rampart.SeverityMedium, Rule: "json.trailing-data",
			Message: "data after the JSON document", Offset: dec.InputOffset()}}, nil
	}
	return judge(doc, in.Policy()), nil
}

// CheckConfig judges a Keras model config held elsewhere (the model_config
// attribute of an HDF5 save, for instance). Findings carry offset -1; a
// config that does not parse is UNSCANNABLE.
func CheckConfig(b []byte, pol *modelscan.Policy) []modelscan.Finding {
	var doc any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return []modelscan.Finding{{Verdict: modelscan.Unscannable, Severity: rampart.SeverityMedium, Rule: "json.invalid",
			Message: "model config does not parse: " + err.Error(), Offset: -1}}
	}
	return judge(doc, pol)
}

func judge(doc any, pol *modelscan.Policy) []modelscan.Finding {
	w := walker{pol: pol}
	w.walk(doc, "$", 0)
	return w.findings
}

type walker struct {
	pol      *modelscan.Policy
	findings []modelscan.Finding
}

func (w *walker) add(v modelscan.Verdict, sev rampart.Severity, rule, callable, where, msg string) {
	w.findings = append(w.findings, modelscan.Finding{Verdict: v, Severity: sev, Rule: rule, Callable: callable,
		Message: msg + " at " + where, Offset: -1})
}

const maxDepth = 512

func (w *walker) walk(v any, where string, depth int) {
	if depth > maxDepth {
		w.add(modelscan.Unscannable, rampart.SeverityMedium, "json.too-deep", "", where, "JSON nested too deeply")
		return
	}
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			w.walk(e, fmt.Sprintf("%s[%d]", where, i), depth+1)
		}
	case map[string]any:
		w.object(x, where)
		for k, e := range x {
			w.walk(e, where+"."+k, depth+1)
		}
	}
}

// object judges one JSON object as a possible Keras serialized object.
func (w *walker) object(o map[string]any, where string) {
	if sm, ok := o["safe_mode"].(bool); ok && !sm {
		w.add(modelscan.Unsafe, rampart.SeverityHigh, "keras.safe-mode-off", "", where,
			`"safe_mode": false disables Keras's refusal to load lambdas`)
	}
	class, _ := o["class_name"].(string)
	if class == "" {
		return
	}
	module, _ := o["module"].(string)
	switch class {
	case "Lambda", "__lambda__":
		w.add(modelscan.Unsafe, rampart.SeverityCritical, "keras.lambda", qualify(module, class), where,
			"Lambda layer: serialized Python bytecode runs when the model loads")
		return
	case "TFSMLayer":
		w.add(modelscan.Unsafe, rampart.SeverityHigh, "keras.tfsmlayer", qualify(module, class), where,
			"TFSMLayer loads a TensorFlow SavedModel from a path when the model loads")
		return
	}
	if class == "function" {
		// Keras 3 serializes a function reference as {"module", "class_name":
		// "function", "config": "<name>"}: the function is imported by name.
		name, _ := o["config"].(string)
		w.reference(module, name, where, "function")
		return
	}
	if module == "" {
		return // Keras 2 configs name classes without modules: resolved inside Keras
	}
	w.reference(module, class, where, "class")
}

// reference judges a module-qualified name Keras will import.
func (w *walker) reference(module, name, where, what string) {
	if isKeras(module) {
		return
	}
	full := qualify(module, name)
	if dangerous(module, name) {
		w.add(modelscan.Unsafe, rampart.SeverityCritical, "keras.dangerous-import", full, where,
			fmt.Sprintf("%s %s is imported and called when the model loads", what, full))
		return
	}
	if w.pol.Allows(module, name) {
		return
	}
	w.add(modelscan.Suspicious, rampart.SeverityMedium, "keras.custom-object", full, where,
		fmt.Sprintf("%s %s from outside Keras is imported when the model loads (allowlist it with --policy if it is yours)", what, full))
}

func qualify(module, name string) string {
	if module == "" {
		return name
	}
	return module + "." + name
}

// isKeras reports whether module belongs to Keras itself.
func isKeras(module string) bool {
	for _, p := range []string{"keras", "tf_keras", "tensorflow.keras"} {
		if module == p || strings.HasPrefix(module, p+".") {
			return true
		}
	}
	return false
}

// dangerousModules run code, reach the network or the file system when a
// name from them is called; dangerousNames are builtins that do.
var dangerousModules = []string{"os", "posix", "nt", "subprocess", "pty", "shutil", "socket", "sys", "importlib",
	"runpy", "ctypes", "pickle", "_pickle", "marshal", "code", "codeop", "pdb", "bdb", "timeit", "cProfile", "profile",
	"webbrowser", "http", "urllib", "requests", "multiprocessing", "tempfile", "pathlib", "io", "_io", "shelve", "glob",
	"pip", "types", "pydoc", "pkgutil", "operator", "_operator", "functools", "commands", "popen2", "platform"}

var dangerousNames = map[string]bool{"eval": true, "exec": true, "compile": true, "open": true, "getattr": true,
	"setattr": true, "delattr": true, "__import__": true, "input": true, "breakpoint": true, "globals": true,
	"locals": true, "vars": true}

func dangerous(module, name string) bool {
	root := module
	if i := strings.IndexByte(module, '.'); i >= 0 {
		root = module[:i]
	}
	for _, m := range dangerousModules {
		if root == m {
			return true
		}
	}
	if root == "builtins" || root == "__builtin__" {
		return dangerousNames[name]
	}
	return false
}
