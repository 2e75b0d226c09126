// Package e2e runs the real rampart binary against real upstream model
// servers over real sockets: the PyTorch OIP v2 server
// (test/upstreams/torch_oip_server.py, Debian's python3-torch), the
// built-in model servers (`rampart upstream oip|openai`) as separate
// processes, and the official openai npm client.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-ai/rampart/test/upstreams"
)

var rampartBin string

func TestMain(m *testing.M) {
	rampartBin = os.Getenv("RAMPART_BIN")
	if rampartBin == "" {
		dir, err := os.MkdirTemp("", "rampart-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		rampartBin = filepath.Join(dir, "rampart")
		cmd := exec.Command("go", "build", "-o", rampartBin, "../../cmd/rampart")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build rampart:", err)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// inCI reports whether missing tools must fail rather than skip.
func inCI() bool { return os.Getenv("CI") != "" }

func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// rampart runs the binary to completion.
func rampart(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(rampartBin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run rampart %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return o.String(), e.String(), code
}

// startUpstream runs `rampart upstream kind` as its own process.
func startUpstream(t testing.TB, kind string) *upstreams.Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := upstreams.Start(ctx, rampartBin, "upstream", kind)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

// startTorch runs the PyTorch OIP server.
func startTorch(t testing.TB) *upstreams.Process {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import torch, sklearn").Run(); err != nil {
		if inCI() {
			t.Fatalf("Debian's python3-torch and python3-sklearn are required in CI: %v", err)
		}
		t.Skip("python3-torch / python3-sklearn not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p, err := upstreams.Start(ctx, "/usr/bin/python3", filepath.Join(repoRoot(t), "test", "upstreams", "torch_oip_server.py"), "--port", "0",
		"--model-name", "breast-cancer-torch", "--model-name", "secret-torch")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

// gateway is a running `rampart serve`.
type gateway struct {
	t      testing.TB
	dir    string
	cfg    string
	cmd    *exec.Cmd
	URL    string
	Admin  string
	mu     sync.Mutex
	logs   bytes.Buffer
	done   chan struct{}
	client *http.Client
}

// writeFile writes name under dir.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startGateway runs rampart serve with the config at dir/rampart.yaml.
func startGateway(t testing.TB, dir string) *gateway {
	t.Helper()
	g := &gateway{t: t, dir: dir, cfg: filepath.Join(dir, "rampart.yaml"), done: make(chan struct{}),
		client: &http.Client{Timeout: 30 * time.Second}}
	g.start()
	t.Cleanup(g.stop)
	return g
}

func (g *gateway) start() {
	t := g.t
	t.Helper()
	g.cmd = exec.Command(rampartBin, "serve", "--config", g.cfg)
	stderr, err := g.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.done = make(chan struct{})
	ready := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			g.mu.Lock()
			g.logs.WriteString(line + "\n")
			g.mu.Unlock()
			if !sent && strings.Contains(line, `"rampart serving"`) {
				var m struct {
					Address, Admin, Scheme string
				}
				if json.Unmarshal([]byte(line), &m) == nil {
					ready <- [2]string{m.Scheme + "://" + m.Address, "http://" + m.Admin}
					sent = true
				}
			}
		}
	}()
	go func() { _ = g.cmd.Wait(); close(g.done) }()
	select {
	case a := <-ready:
		g.URL, g.Admin = a[0], a[1]
	case <-g.done:
		t.Fatalf("rampart serve exited at start:\n%s", g.Logs())
	case <-time.After(60 * time.Second):
		t.Fatalf("rampart serve not ready after 60s:\n%s", g.Logs())
	}
}

// Logs returns what the gateway logged so far.
func (g *gateway) Logs() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.logs.String()
}

// stop ends the gateway gracefully (SIGTERM) and waits. A binary built
// with -race reports data races on stderr: they fail the test.
func (g *gateway) stop() {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	defer func() {
		if strings.Contains(g.Logs(), "WARNING: DATA RACE") {
			g.t.Errorf("the gateway reported a data race:\n%s", g.Logs())
		}
	}()
	select {
	case <-g.done:
		return
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(40 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

// kill ends the gateway with SIGKILL: no flush, no goodbye.
func (g *gateway) kill() {
	_ = g.cmd.Process.Signal(syscall.SIGKILL)
	<-g.done
}

// signal sends sig to the gateway.
func (g *gateway) signal(sig os.Signal) { _ = g.cmd.Process.Signal(sig) }

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, r.Body)
	}
	return m
}

// do sends a request through the gateway.
func (g *gateway) do(method, path, key string, body []byte, hdr ...string) response {
	g.t.Helper()
	req, err := http.NewRequest(method, g.URL+path, bytes.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := g.client.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v\nlogs:\n%s", method, path, err, g.Logs())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// metrics scrapes the admin listener.
func (g *gateway) metrics() string {
	g.t.Helper()
	resp, err := http.Get(g.Admin + "/metrics")
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// createKey makes an API key with the CLI and returns the plaintext.
func createKey(t testing.TB, db, name, tenant string, extra ...string) string {
	t.Helper()
	args := append([]string{"keys", "create", "--db", db, "--name", name, "--tenant", tenant, "--format", "json"}, extra...)
	out, errOut, code := rampart(t, args...)
	if code != 0 {
		t.Fatalf("keys create: exit %d: %s", code, errOut)
	}
	var k struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(out), &k); err != nil || k.Key == "" {
		t.Fatalf("keys create --format json printed %q (%v)", out, err)
	}
	return k.Key
}

// auditRecords exports the audit log in dir.
func auditRecords(t testing.TB, dir string) []map[string]any {
	t.Helper()
	out, errOut, code := rampart(t, "audit", "export", "--dir", dir)
	if code != 0 {
		t.Fatalf("audit export: exit %d: %s", code, errOut)
	}
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		recs = append(recs, m)
	}
	return recs
}

func recordByID(recs []map[string]any, id string) map[string]any {
	for _, r := range recs {
		if r["request_id"] == id {
			return r
		}
	}
	return nil
}
