// Package upstreams starts Rampart's real upstream model servers as child
// processes for end-to-end tests: the PyTorch OIP v2 server in
// torch_oip_server.py, or any command that announces itself the same way
// (such as `rampart upstream`).
//
// Contract: a server process prints "READY port=N" on stdout once it accepts
// connections on 127.0.0.1:N. Start waits for that line (or the process's
// exit, or the context) and returns a Process whose Stop ends it. Nothing
// here fakes a server: if Python with torch and scikit-learn is missing,
// Python reports it so the caller can skip.
package upstreams

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a running upstream server.
type Process struct {
	// URL is the server's base URL, http://127.0.0.1:Port.
	URL  string
	Port int

	cmd    *exec.Cmd
	waited chan struct{}
	err    error
	stderr *tail
}

// Start runs name with args and waits until it prints "READY port=N".
// Cancelling ctx before then kills the process; afterwards use Stop.
func Start(ctx context.Context, name string, args ...string) (*Process, error) {
	cmd := exec.Command(name, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{cmd: cmd, waited: make(chan struct{}), stderr: &tail{max: 8 << 10}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.waited)
	}()

	ports := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "READY port="); ok && !found {
				if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 65536 {
					found = true
					ports <- n
				}
			}
		}
		// Keep draining so the child never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case p.Port = <-ports:
		p.URL = "http://127.0.0.1:" + strconv.Itoa(p.Port)
		return p, nil
	case <-p.waited:
		return nil, fmt.Errorf("%s exited before it was ready: %v; stderr: %s", name, p.err, p.stderr)
	case <-ctx.Done():
		_ = p.Stop()
		return nil, fmt.Errorf("%s not ready: %w; stderr: %s", name, ctx.Err(), p.stderr)
	}
}

// Stop ends the process: SIGTERM first, then SIGKILL after 3 seconds.
func (p *Process) Stop() error {
	select {
	case <-p.waited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.waited:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.waited
	}
	return nil
}

// Stderr returns the last few KiB the process wrote to stderr.
func (p *Process) Stderr() string { return p.stderr.String() }

// ScriptDir is the directory holding the Python upstream servers.
func ScriptDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "test/upstreams"
	}
	return filepath.Dir(file)
}

// Python returns a python3 that can import torch and sklearn: the one named
// by $RAMPART_PYTHON, else Debian's /usr/bin/python3 (scripts/test.sh
// installs python3-torch and python3-sklearn there), else python3 on PATH.
func Python() (string, error) {
	var candidates []string
	if env := os.Getenv("RAMPART_PYTHON"); env != "" {
		candidates = append(candidates, env)
	}
	candidates = append(candidates, "/usr/bin/python3", "python3")
	var errs []error
	for _, c := range candidates {
		out, err := exec.Command(c, "-c", "import torch, sklearn").CombinedOutput()
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w: %s", c, err, lastLine(out)))
	}
	return "", fmt.Errorf("no python3 with torch and scikit-learn: %w", errors.Join(errs...))
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// StartTorchOIP starts torch_oip_server.py with python on a free port;
// args are passed on (e.g. "--model-name", "m").
func StartTorchOIP(ctx context.Context, python string, args ...string) (*Process, error) {
	script := filepath.Join(ScriptDir(), "torch_oip_server.py")
	return Start(ctx, python, append([]string{script, "--port", "0"}, args...)...)
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
