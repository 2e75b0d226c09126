package modelserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// shutdownGrace is how long in-flight requests (a streaming completion, say)
// get to finish once the context ends.
const shutdownGrace = 5 * time.Second

// Serve answers HTTP requests on ln with h until ctx ends, then shuts down
// gracefully. It returns nil after a clean shutdown. The timeouts bound slow
// clients; there is no write timeout so that streamed responses can last.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serr)
	}
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// ListenAndAnnounce listens on addr (port 0 picks a free one), writes
// "READY port=N\n" to out once the socket accepts connections, and serves h
// until ctx ends. A parent process reads that line to learn the port.
func ListenAndAnnounce(ctx context.Context, addr string, h http.Handler, out io.Writer) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if _, err := fmt.Fprintf(out, "READY port=%d\n", port); err != nil {
		_ = ln.Close()
		return fmt.Errorf("announce: %w", err)
	}
	return Serve(ctx, ln, h)
}
