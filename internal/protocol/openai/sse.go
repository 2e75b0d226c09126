package openai

import (
	"errors"
	"fmt"
	"io"
)

// DefaultMaxEvent is the event size RelaySSE uses when given none.
const DefaultMaxEvent = 1 << 20

// ErrEventTooLarge reports an upstream event beyond RelaySSE's bound.
var ErrEventTooLarge = errors.New("server-sent event too large")

// RelaySSE copies an upstream text/event-stream to dst one event at a time,
// calling flush (if not nil) after each, so tokens reach the client as the
// model produces them and memory stays bounded by one event, never the
// whole response.
//
// The stream is parsed as the SSE specification says (lines end in CRLF,
// LF or CR, a blank line ends an event, a leading byte-order mark is
// dropped) and re-emitted with LF line endings. Normalising means the
// client parses exactly the events the gateway saw: an ambiguous line
// ending cannot make the two disagree about where an event ends. Comment
// lines (keep-alives) and event, id and retry fields pass through; a final
// event that the upstream never terminated is dropped, as a client would
// drop it. "data: [DONE]" is an ordinary event and passes through.
//
// onEvent, if not nil, sees each event's data (its data fields joined by
// LF) before the event is written; events without data fields, such as
// keep-alives, are not shown to it.
//
// events counts the event blocks written. An event larger than maxEvent
// bytes (DefaultMaxEvent when maxEvent <= 0) stops the relay with an error
// wrapping ErrEventTooLarge; nothing of it is written. A clean end of the
// upstream returns a nil error.
func RelaySSE(dst io.Writer, flush func(), src io.Reader, maxEvent int, onEvent func(data []byte)) (events int, err error) {
	if maxEvent <= 0 {
		maxEvent = DefaultMaxEvent
	}
	lr := lineReader{src: src, buf: make([]byte, 16<<10)}
	var ev, data []byte
	hasData := false
	for {
		line, err := lr.next(maxEvent - len(ev) - 1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return events, nil
			}
			if errors.Is(err, ErrEventTooLarge) {
				return events, fmt.Errorf("relay events: event exceeds %d bytes: %w", maxEvent, err)
			}
			return events, fmt.Errorf("relay events: read upstream: %w", err)
		}
		if events == 0 && len(ev) == 0 {
			// Byte-order marks are dropped wherever they would begin the
			// output, since a client drops one there: otherwise a line
			// the gateway reads as "\ufeffdata" would reach the client
			// as an uninspected "data" field.
			for len(line) >= 3 && string(line[:3]) == "\xef\xbb\xbf" {
				line = line[3:]
			}
		}
		if len(line) == 0 {
			if len(ev) == 0 {
				continue
			}
			if hasData && onEvent != nil {
				onEvent(data)
			}
			ev = append(ev, '\n')
			if _, err := dst.Write(ev); err != nil {
				return events, fmt.Errorf("relay events: write to client: %w", err)
			}
			if flush != nil {
				flush()
			}
			events++
			ev, data, hasData = ev[:0], data[:0], false
			continue
		}
		ev = append(ev, line...)
		ev = append(ev, '\n')
		if line[0] == ':' {
			continue
		}
		name, value := line, line[len(line):]
		for i, c := range line {
			if c == ':' {
				name, value = line[:i], line[i+1:]
				if len(value) > 0 && value[0] == ' ' {
					value = value[1:]
				}
				break
			}
		}
		if string(name) == "data" {
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		}
	}
}

// lineReader splits a stream into lines ended by CRLF, LF or CR.
type lineReader struct {
	src    io.Reader
	buf    []byte
	r, w   int
	skipLF bool // the last line ended in CR; a following LF belongs to it
	line   []byte
	err    error
}

// next returns the next line without its ending, valid until the next
// call, failing with ErrEventTooLarge past limit bytes and with the
// reader's error (io.EOF at the end) once the input is spent; a last line
// without an ending is dropped.
func (lr *lineReader) next(limit int) ([]byte, error) {
	lr.line = lr.line[:0]
	for {
		for lr.r < lr.w {
			if lr.skipLF {
				lr.skipLF = false
				if lr.buf[lr.r] == '\n' {
					lr.r++
					continue
				}
			}
			chunk := lr.buf[lr.r:lr.w]
			end := -1
			for i, c := range chunk {
				if c == '\n' || c == '\r' {
					end = i
					break
				}
			}
			if end < 0 {
				lr.line = append(lr.line, chunk...)
				lr.r = lr.w
				if len(lr.line) > limit {
					return nil, ErrEventTooLarge
				}
				break
			}
			lr.line = append(lr.line, chunk[:end]...)
			lr.skipLF = chunk[end] == '\r'
			lr.r += end + 1
			if len(lr.line) > limit {
				return nil, ErrEventTooLarge
			}
			return lr.line, nil
		}
		if lr.err != nil {
			return nil, lr.err
		}
		n, err := lr.src.Read(lr.buf)
		lr.r, lr.w = 0, n
		if err != nil {
			lr.err = err
		}
	}
}
