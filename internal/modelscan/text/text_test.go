package text

import (
	"context"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

func TestText(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		match   bool
		verdict modelscan.Verdict
	}{
		{"readme", "# My model\n\nTrained on data. Use it like this:\n\n    from x import y\n\nLicence: MIT\n", true, modelscan.Clean},
		{"vocabulary", strings.Repeat("tok\n", 5000) + "héllo wörld\n", true, modelscan.Clean},
		{"python source", "import torch\nfrom torch import nn\n\nclass Net(nn.Module):\n    def forward(self, x):\n        return x\n", true, modelscan.Suspicious},
		{"binary after text", "hello\n" + strings.Repeat("a", 600) + "\x00\x01\x02", true, modelscan.Unscannable},
		{"binary", "\x00\x01\x02GGUF", false, modelscan.Clean},
		{"invalid utf-8", "caf\xe9 au lait", false, modelscan.Clean},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			head := []byte(tc.doc)
			if len(head) > 512 {
				head = head[:512]
			}
			if got := New().Match(head); got != tc.match {
				t.Fatalf("Match = %v", got)
			}
			if !tc.match {
				return
			}
			e := modelscan.New(modelscan.DefaultLimits(), nil, New())
			res, err := e.Scan(context.Background(), "f", strings.NewReader(tc.doc), int64(len(tc.doc)))
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.verdict {
				t.Fatalf("verdict %s, want %s: %+v", res.Verdict, tc.verdict, res.Findings)
			}
		})
	}
}

// TestRuneSplitAcrossChunks: a multi-byte character cut by the chunk
// boundary is still text.
func TestRuneSplitAcrossChunks(t *testing.T) {
	doc := strings.Repeat("a", chunk-1) + "é" + strings.Repeat("b", 10)
	e := modelscan.New(modelscan.DefaultLimits(), nil, New())
	res, err := e.Scan(context.Background(), "f", strings.NewReader(doc), int64(len(doc)))
	if err != nil || res.Verdict != modelscan.Clean {
		t.Fatalf("%v %+v", err, res)
	}
}

func FuzzText(f *testing.F) {
	f.Add("hello\nworld\n")
	f.Fuzz(func(t *testing.T, doc string) {
		e := modelscan.New(modelscan.DefaultLimits(), nil, New())
		if _, err := e.Scan(context.Background(), "f", strings.NewReader(doc), int64(len(doc))); err != nil {
			t.Fatal(err)
		}
	})
}
