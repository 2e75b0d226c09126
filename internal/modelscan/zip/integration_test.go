package zip_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart/internal/modelscan"
	"github.com/rampart-ai/rampart/internal/modelscan/gguf"
	"github.com/rampart-ai/rampart/internal/modelscan/joblib"
	"github.com/rampart-ai/rampart/internal/modelscan/numpy"
	"github.com/rampart-ai/rampart/internal/modelscan/onnx"
	"github.com/rampart-ai/rampart/internal/modelscan/pickle"
	"github.com/rampart-ai/rampart/internal/modelscan/safetensors"
	mzip "github.com/rampart-ai/rampart/internal/modelscan/zip"
)

// benign lists the corpus files of the container and tensor analyzers
// that must be CLEAN with the real pickle analyzer; every other corpus
// file is malicious or malformed and must not be.
var benign = map[string]bool{
	"zip/torch_state.pt": true, "zip/benign.zip": true, "zip/zip64.zip": true,
	"numpy/float.npy": true, "numpy/fortran.npy": true, "numpy/structured.npy": true, "numpy/datetime.npy": true,
	"numpy/unicode.npy": true, "numpy/v2.npy": true, "numpy/object.npy": true, "numpy/object.npz": true,
	"numpy/compressed.npz":     true,
	"joblib/model_zlib.joblib": true, "joblib/model_gzip.joblib": true, "joblib/model_bz2.joblib": true,
	"safetensors/valid.safetensors": true, "safetensors/model-00001-of-00002.safetensors": true,
	"safetensors/model-00002-of-00002.safetensors": true, "safetensors/model.safetensors.index.json": true,
	"gguf/valid.gguf":        true,
	"onnx/torch_export.onnx": true, "onnx/local_function.onnx": true,
}

// TestRealPickle scans every corpus file of these packages with the full
// analyzer table, the real pickle analyzer included.
func TestRealPickle(t *testing.T) {
	e := modelscan.New(modelscan.DefaultLimits(), nil,
		mzip.New(), numpy.New(), safetensors.New(), safetensors.NewIndex(), gguf.New(), joblib.New(), pickle.New(), onnx.New())
	var files []string
	for _, pkg := range []string{"zip", "numpy", "joblib", "safetensors", "gguf", "onnx"} {
		ents, err := os.ReadDir(filepath.Join("..", pkg, "testdata"))
		if err != nil {
			t.Fatal(err)
		}
		for _, ent := range ents {
			if !strings.HasSuffix(ent.Name(), ".py") && ent.Type().IsRegular() {
				files = append(files, pkg+"/"+ent.Name())
			}
		}
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			res, err := e.ScanFile(context.Background(), filepath.Join("..", strings.Replace(f, "/", "/testdata/", 1)))
			if err != nil {
				t.Fatal(err)
			}
			if benign[f] != (res.Verdict == modelscan.Clean) {
				t.Errorf("%s: %s %s (benign=%v): %+v", f, res.Format, res.Verdict, benign[f], res.Findings)
			}
			t.Logf("%-45s %-18s %s", f, res.Format, res.Verdict)
		})
	}
}
