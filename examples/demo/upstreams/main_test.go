package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	cases := []struct {
		name, path string
		args       []string
	}{
		{"oip", "/v2/models/demo-a/ready", []string{"-kind", "oip", "-models", "demo-a,demo-b"}},
		{"openai", "/v1/models/bigram-chat", []string{"-kind", "openai", "-chunk-delay", "0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() { done <- run(ctx, tc.args, pw, io.Discard) }()
			line, err := bufio.NewReader(pr).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			port, ok := strings.CutPrefix(strings.TrimSpace(line), "READY port=")
			if !ok {
				t.Fatalf("announcement %q", line)
			}
			resp, err := http.Get("http://127.0.0.1:" + port + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("GET %s: status %d", tc.path, resp.StatusCode)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run after cancel: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("run did not return after cancel")
			}
		})
	}
}

func TestRunUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown kind": {"-kind", "grpc"},
		"bad flag":     {"-nope"},
		"extra arg":    {"serve"},
		"bad model":    {"-models", "a/b"},
	} {
		t.Run(name, func(t *testing.T) {
			var u usageError
			if err := run(t.Context(), args, io.Discard, io.Discard); !errors.As(err, &u) {
				t.Errorf("run(%q) = %v, want a usage error", args, err)
			}
		})
	}
}
