// Package demo is `rampart demo`: a guided tour that needs nothing but the
// binary. It serves a real model (logistic regression trained on the
// breast-cancer data that Debian's scikit-learn ships, weights embedded)
// over OIP v2 on loopback, puts the gateway in front of it with embedded
// defaults (SQLite audit log in a temporary folder, a freshly generated API
// key), walks through the decisions the gateway makes and verifies the
// audit log at the end.
package demo

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/rampart-ai/rampart/internal/audit"
	"github.com/rampart-ai/rampart/internal/authn/apikey"
	"github.com/rampart-ai/rampart/internal/gateway"
	"github.com/rampart-ai/rampart/internal/modelserver"
	"github.com/rampart-ai/rampart/internal/telemetry"
)

//go:embed policies.cedar
var policies []byte

//go:embed rampart.yaml.tmpl
var configTmpl string

// Options configure the tour.
type Options struct {
	// Serve keeps the gateway running after the tour until ctx ends.
	Serve bool
	// Dir holds the state; empty means a new temporary folder, removed at
	// the end unless Serve or Keep is set.
	Dir  string
	Keep bool
	// Listen and Admin are the gateway's addresses (default loopback, any port).
	Listen, Admin string
	Out           io.Writer
	// Log receives the gateway's JSON logs (default: discarded).
	Log io.Writer
}

// Step is one stop of the tour.
type Step struct {
	Title   string
	Explain string
	Want    int
	Got     int
	Detail  string
}

// Run runs the tour and returns an error if any step did not behave as
// described.
func Run(ctx context.Context, o Options) error {
	out := o.Out
	if out == nil {
		out = os.Stdout
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "rampart-demo-")
		if err != nil {
			return err
		}
		dir = d
		if !o.Serve && !o.Keep {
			defer os.RemoveAll(dir)
		}
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Admin == "" {
		o.Admin = "127.0.0.1:0"
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// 1. The model server: a real classifier on loopback.
	msLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mh, err := modelserver.New(modelserver.Options{})
	if err != nil {
		return err
	}
	msDone := make(chan error, 1)
	go func() { msDone <- modelserver.Serve(ctx, msLn, mh) }()
	upstream := "http://" + msLn.Addr().String()

	// 2. Config, policies and a key.
	if err := os.WriteFile(filepath.Join(dir, "policies.cedar"), policies, 0o600); err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "rampart.yaml")
	var cfgBuf bytes.Buffer
	if err := template.Must(template.New("cfg").Parse(configTmpl)).Execute(&cfgBuf, map[string]string{
		"Listen": o.Listen, "Admin": o.Admin, "Upstream": upstream,
	}); err != nil {
		return err
	}
	if err := os.WriteFile(cfgPath, cfgBuf.Bytes(), 0o600); err != nil {
		return err
	}
	store, err := apikey.OpenStore(filepath.Join(dir, "keys.db"))
	if err != nil {
		return err
	}
	key, k, err := store.Create(ctx, apikey.Spec{Name: "demo-analyst", Roles: []string{"analyst"}, Tenant: "oncology"})
	store.Close()
	if err != nil {
		return err
	}

	// 3. The gateway.
	gw := gateway.New(gateway.Options{ConfigPath: cfgPath, Logger: telemetry.NewLogger(logw, new(slog.LevelVar))})
	gwCtx, stopGW := context.WithCancel(ctx)
	defer stopGW()
	gwDone := make(chan error, 1)
	go func() { gwDone <- gw.Run(gwCtx) }()
	select {
	case <-gw.Listening:
	case err := <-gwDone:
		return fmt.Errorf("gateway did not start: %w", err)
	case <-time.After(30 * time.Second):
		return errors.New("gateway did not start within 30s")
	}
	base := "http://" + gw.Addr()
	fmt.Fprintf(out, "Rampart demo\n============\n\n")
	fmt.Fprintf(out, "Model server (OIP v2, pure Go): %s\n  serving breast-cancer (public) and breast-cancer-restricted, a logistic regression\n  trained on the Wisconsin breast-cancer data (test accuracy %.3f)\n", upstream, modelserver.Model().TestAccuracy)
	fmt.Fprintf(out, "Gateway:                        %s   (metrics: http://%s/metrics)\n", base, gw.AdminAddr())
	fmt.Fprintf(out, "State folder:                   %s\n", dir)
	fmt.Fprintf(out, "API key for tenant oncology, role analyst (shown once, stored only as a hash): %s…\n\n", key[:12])
	_ = k

	steps := tour(base, key)
	failed := 0
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range steps {
		st := &steps[i]
		if err := st.run(ctx, client); err != nil {
			return err
		}
		mark := "PASS"
		if st.s.Got != st.s.Want {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(out, "%d. %s\n   %s\n   -> HTTP %d (expected %d) %s\n   %s\n\n", i+1, st.s.Title, st.s.Explain, st.s.Got, st.s.Want, mark, st.s.Detail)
	}

	if o.Serve {
		fmt.Fprintf(out, "The gateway keeps running. Try:\n\n  curl -s -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n    -d @- %s/v2/models/breast-cancer/infer <<'EOF'\n%s\nEOF\n\n", key, base, sampleBody(0))
		fmt.Fprintf(out, "Config: %s\nAudit log: %s (verify with: rampart audit verify --dir %s)\nPress Ctrl-C to stop.\n", cfgPath, filepath.Join(dir, "audit"), filepath.Join(dir, "audit"))
		<-ctx.Done()
	}

	// 4. Stop the gateway (flushes the audit log) and verify the log.
	stopGW()
	if err := <-gwDone; err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	rep, err := audit.Verify(context.Background(), filepath.Join(dir, "audit"), nil)
	if err != nil {
		return fmt.Errorf("verify audit log: %w", err)
	}
	fmt.Fprintf(out, "%d. Verify the tamper-evident audit log\n   Every decision above, allowed or not, is a leaf of a Merkle tree with signed checkpoints.\n", len(steps)+1)
	if len(rep.Problems) > 0 {
		fmt.Fprintf(out, "   -> FAIL: %s\n", strings.Join(rep.Problems, "; "))
		failed++
	} else {
		fmt.Fprintf(out, "   -> PASS: %d records, %d signed checkpoints, root %s\n\n", rep.Size, rep.Checkpoints, rep.RootHash)
	}
	if rep.Size < int64(len(steps)) {
		fmt.Fprintf(out, "   -> FAIL: %d records for at least %d requests\n", rep.Size, len(steps))
		failed++
	}
	cancel()
	<-msDone
	if failed > 0 {
		return fmt.Errorf("%d step(s) of the tour did not behave as expected", failed)
	}
	fmt.Fprintln(out, "Tour passed: every control behaved as described.")
	return nil
}

type step struct {
	s   Step
	run func(ctx context.Context, c *http.Client) error
}

func sampleBody(i int) string {
	s := modelserver.Model().Samples()
	row := s[i%len(s)]
	b, _ := json.Marshal(map[string]any{
		"id":     fmt.Sprintf("demo-%d", i),
		"inputs": []any{map[string]any{"name": "features", "datatype": "FP32", "shape": []int{1, len(row.Features)}, "data": row.Features}},
	})
	return string(b)
}

func post(ctx context.Context, c *http.Client, url, key, body string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, b, err
}

func errText(b []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(b))
}

func tour(base, key string) []step {
	infer := base + "/v2/models/breast-cancer/infer"
	var steps []step
	add := func(title, explain string, want int, run func(ctx context.Context, c *http.Client, s *Step) error) {
		st := step{s: Step{Title: title, Explain: explain, Want: want}}
		i := len(steps)
		steps = append(steps, st)
		steps[i].run = func(ctx context.Context, c *http.Client) error { return run(ctx, c, &steps[i].s) }
	}
	add("An allowed request", "An analyst of tenant oncology asks the public breast-cancer model for a prediction.", 200,
		func(ctx context.Context, c *http.Client, s *Step) error {
			resp, b, err := post(ctx, c, infer, key, sampleBody(0))
			if err != nil {
				return err
			}
			s.Got = resp.StatusCode
			var out struct {
				Outputs []struct {
					Name string `json:"name"`
					Data []any  `json:"data"`
				} `json:"outputs"`
			}
			_ = json.Unmarshal(b, &out)
			var parts []string
			for _, o := range out.Outputs {
				parts = append(parts, fmt.Sprintf("%s=%v", o.Name, o.Data))
			}
			s.Detail = fmt.Sprintf("model answered %s (expected label %q); gateway overhead %s µs, request %s",
				strings.Join(parts, " "), modelserver.Model().Samples()[0].Label, resp.Header.Get(gateway.OverheadHeader), resp.Header.Get("X-Request-Id"))
			return nil
		})
	add("A missing key", "The same request without credentials: authentication comes first, before the body is even read.", 401,
		func(ctx context.Context, c *http.Client, s *Step) error {
			resp, b, err := post(ctx, c, infer, "", sampleBody(0))
			if err != nil {
				return err
			}
			s.Got, s.Detail = resp.StatusCode, "error: "+errText(b)
			return nil
		})
	add("A forbidden model", "The analyst asks breast-cancer-restricted; no policy permits analysts on restricted models, so it is denied by default.", 403,
		func(ctx context.Context, c *http.Client, s *Step) error {
			resp, b, err := post(ctx, c, base+"/v2/models/breast-cancer-restricted/infer", key, sampleBody(0))
			if err != nil {
				return err
			}
			s.Got, s.Detail = resp.StatusCode, "error: "+errText(b)+" (the policy that decided is in the audit record, not in the answer)"
			return nil
		})
	add("A malformed tensor", "The shape says 1×30 but only 29 numbers follow: the request is refused before it reaches the model.", 400,
		func(ctx context.Context, c *http.Client, s *Step) error {
			row := modelserver.Model().Samples()[0].Features
			b, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "features", "datatype": "FP32", "shape": []int{1, 30}, "data": row[:29]}}})
			resp, rb, err := post(ctx, c, infer, key, string(b))
			if err != nil {
				return err
			}
			s.Got, s.Detail = resp.StatusCode, "error: "+errText(rb)
			return nil
		})
	add("An oversized body", "A 200 KiB request against this route's 64 KiB limit.", 413,
		func(ctx context.Context, c *http.Client, s *Step) error {
			big := `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,30],"data":[` + strings.Repeat("0.0,", 50000) + `0.0]}]}`
			resp, rb, err := post(ctx, c, infer, key, big)
			if err != nil {
				return err
			}
			s.Got, s.Detail = resp.StatusCode, "error: "+errText(rb)
			return nil
		})
	add("A rate-limited burst", "20 requests at once against a limit of 5 per second (burst 5) per key.", 429,
		func(ctx context.Context, c *http.Client, s *Step) error {
			counts := map[int]int{}
			retry := ""
			for i := range 20 {
				resp, _, err := post(ctx, c, infer, key, sampleBody(i))
				if err != nil {
					return err
				}
				counts[resp.StatusCode]++
				if resp.StatusCode == http.StatusTooManyRequests && retry == "" {
					retry = resp.Header.Get("Retry-After")
				}
			}
			if counts[429] > 0 {
				s.Got = 429
			} else {
				s.Got = 200
			}
			s.Detail = fmt.Sprintf("%d allowed, %d throttled with Retry-After: %s s", counts[200], counts[429], retry)
			return nil
		})
	return steps
}
