package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/rampart-ai/rampart/internal/config"
)

// listener hands HTTP/1.x connections, wrapped in hygieneConn, to an
// http.Server, and serves TLS connections that negotiated h2 with the
// HTTP/2 server directly. TLS is terminated here rather than by http.Server
// so that HTTP/1.1 over TLS gets the same raw-framing checks as plain HTTP.
type listener struct {
	net.Listener
	tlsConf   *tls.Config
	handshake time.Duration
	maxHeader int
	onRefuse  func(string)
	serveH2   func(*tls.Conn)

	conns  chan net.Conn
	errc   chan error
	closed chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func newListener(ln net.Listener, tlsConf *tls.Config, handshake time.Duration, maxHeader int, onRefuse func(string), serveH2 func(*tls.Conn)) *listener {
	l := &listener{Listener: ln, tlsConf: tlsConf, handshake: handshake, maxHeader: maxHeader, onRefuse: onRefuse, serveH2: serveH2,
		conns: make(chan net.Conn), errc: make(chan error, 1), closed: make(chan struct{})}
	if tlsConf != nil {
		go l.acceptTLS()
	}
	return l
}

func (l *listener) Accept() (net.Conn, error) {
	if l.tlsConf == nil {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		return newHygieneConn(c, nil, l.maxHeader, l.onRefuse), nil
	}
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errc:
		return nil, err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *listener) acceptTLS() {
	backoff := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				select {
				case l.errc <- err:
				default:
				}
				return
			}
			// Anything else (EMFILE, ENFILE, ECONNABORTED…) is transient: an
			// attacker exhausting descriptors must not stop the listener for
			// good. Back off and keep accepting.
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		l.wg.Add(1)
		go l.handshakeAndDispatch(c)
	}
}

// handshakeAndDispatch runs the TLS handshake off the accept loop so a slow
// client cannot stall others.
func (l *listener) handshakeAndDispatch(c net.Conn) {
	defer l.wg.Done()
	tc := tls.Server(c, l.tlsConf)
	ctx, cancel := context.WithTimeout(context.Background(), l.handshake)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		_ = c.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol == http2.NextProtoTLS {
		l.serveH2(tc)
		return
	}
	select {
	case l.conns <- newHygieneConn(tc, tc, l.maxHeader, l.onRefuse):
	case <-l.closed:
		_ = tc.Close()
	}
}

func (l *listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// tlsConfig builds the server TLS config: TLS 1.2+ with modern suites, h2
// and http/1.1 via ALPN, client certificates verified against the CA.
func tlsConfig(c *config.TLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{http2.NextProtoTLS, "http/1.1"},
	}
	if c.MinVersion == "1.3" {
		tc.MinVersion = tls.VersionTLS13
	}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("read client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA file %s holds no PEM certificate", c.ClientCAFile)
		}
		tc.ClientCAs = pool
		switch c.ClientAuth {
		case "require":
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		case "request":
			tc.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	return tc, nil
}

type tlsStateKey struct{}

// connContext exposes the TLS state of HTTP/1.x connections (which
// http.Server sees as plain conns because TLS ends in [listener]).
func connContext(ctx context.Context, c net.Conn) context.Context {
	if hc, ok := c.(*hygieneConn); ok && hc.tls != nil {
		st := hc.tls.ConnectionState()
		return context.WithValue(ctx, tlsStateKey{}, &st)
	}
	return ctx
}

// requestTLS returns the TLS state of r, wherever TLS was terminated.
func requestTLS(r *http.Request) *tls.ConnectionState {
	if r.TLS != nil {
		return r.TLS
	}
	st, _ := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState)
	return st
}
