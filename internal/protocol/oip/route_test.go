package oip

import (
	"strings"
	"testing"

	"github.com/rampart-ai/rampart"
)

func TestRoute(t *testing.T) {
	cases := []struct {
		method, path string
		want         Match
		ok           bool
		code         rampart.Code
	}{
		{"GET", "/v2", Match{Operation: OpServerMetadata, Action: rampart.ActionReadMetadata}, true, ""},
		{"HEAD", "/v2", Match{Operation: OpServerMetadata, Action: rampart.ActionReadMetadata}, true, ""},
		{"GET", "/v2/health/live", Match{Operation: OpServerLive, Action: rampart.ActionHealth}, true, ""},
		{"GET", "/v2/health/ready", Match{Operation: OpServerReady, Action: rampart.ActionHealth}, true, ""},
		{"GET", "/v2/models/resnet", Match{Operation: OpModelMetadata, Action: rampart.ActionReadMetadata, Model: "resnet"}, true, ""},
		{"GET", "/v2/models/resnet/versions/3", Match{Operation: OpModelMetadata, Action: rampart.ActionReadMetadata, Model: "resnet", Version: "3"}, true, ""},
		{"GET", "/v2/models/resnet/ready", Match{Operation: OpModelReady, Action: rampart.ActionReadMetadata, Model: "resnet"}, true, ""},
		{"GET", "/v2/models/resnet/versions/1/ready", Match{Operation: OpModelReady, Action: rampart.ActionReadMetadata, Model: "resnet", Version: "1"}, true, ""},
		{"POST", "/v2/models/resnet/infer", Match{Operation: OpInfer, Action: rampart.ActionInfer, Model: "resnet"}, true, ""},
		{"POST", "/v2/models/resnet/versions/2/infer", Match{Operation: OpInfer, Action: rampart.ActionInfer, Model: "resnet", Version: "2"}, true, ""},
		{"POST", "/v2/models/my%20model/infer", Match{Operation: OpInfer, Action: rampart.ActionInfer, Model: "my model"}, true, ""},
		{"GET", "/v2/models/resnet/config", Match{Operation: OpModelConfig, Action: rampart.ActionReadMetadata, Model: "resnet"}, true, ""},
		{"GET", "/v2/models/resnet/stats", Match{Operation: OpModelStats, Action: rampart.ActionReadMetadata, Model: "resnet"}, true, ""},
		{"POST", "/v2/repository/index", Match{Operation: OpRepositoryIndex, Action: rampart.ActionAdmin}, true, ""},
		{"POST", "/v2/repository/models/resnet/load", Match{Operation: OpRepositoryLoad, Action: rampart.ActionAdmin, Model: "resnet"}, true, ""},
		{"POST", "/v2/repository/models/resnet/unload", Match{Operation: OpRepoUnload, Action: rampart.ActionAdmin, Model: "resnet"}, true, ""},

		{"GET", "/v1/models", Match{}, false, ""},
		{"GET", "/v2x", Match{}, false, ""},
		{"GET", "/v2/", Match{}, false, ""},
		{"GET", "/v2/health", Match{}, false, ""},
		{"GET", "/v2/models/resnet/infer/extra", Match{}, false, ""},
		{"GET", "/v2/models/resnet/versions", Match{}, false, ""},
		{"GET", "/v2/models", Match{}, false, ""},

		{"GET", "/v2/models/resnet/infer", Match{}, true, rampart.CodeMethod},
		{"POST", "/v2/models/resnet", Match{}, true, rampart.CodeMethod},
		{"DELETE", "/v2/health/live", Match{}, true, rampart.CodeMethod},
		{"GET", "/v2/repository/index", Match{}, true, rampart.CodeMethod},
		{"POST", "/v2/models/../infer", Match{}, true, rampart.CodeInvalid},
		{"POST", "/v2/models/%2e%2e/infer", Match{}, true, rampart.CodeInvalid},
		{"POST", "/v2/models/a%2Fb/infer", Match{}, true, rampart.CodeInvalid},
		{"POST", "/v2/models/a%5Cb/infer", Match{}, true, rampart.CodeInvalid},
		{"POST", "/v2/models/a%00b/infer", Match{}, true, rampart.CodeInvalid},
		{"POST", "/v2/models/a%zz/infer", Match{}, true, rampart.CodeInvalid},
		{"POST", "/v2/models//infer", Match{}, true, rampart.CodeInvalid},
		{"POST", "/v2/models/" + strings.Repeat("m", 257) + "/infer", Match{}, true, rampart.CodeInvalid},
		{"POST", "/v2/models/m/versions/%ff/infer", Match{}, true, rampart.CodeInvalid},
		{"POST", "/v2/repository/models/..%2f/load", Match{}, true, rampart.CodeInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			m, ok, err := Route(tc.method, tc.path)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if tc.code != "" {
				if rampart.ErrorCode(err) != tc.code {
					t.Fatalf("error %v, want code %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m != tc.want {
				t.Errorf("match %+v, want %+v", m, tc.want)
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	good := []string{"resnet50", "my-model_v2.onnx", "名前", "a.b"}
	bad := []string{"", "..", "a..b", "a/b", `a\b`, "a\x00", "a\x7f", "a\u0085b", "\xff", strings.Repeat("x", 257)}
	for _, s := range good {
		if err := CheckName(s); err != nil {
			t.Errorf("CheckName(%q) = %v", s, err)
		}
	}
	for _, s := range bad {
		if CheckName(s) == nil {
			t.Errorf("CheckName(%q) accepted", s)
		}
	}
}
