package httpx

import (
	"io"
	"net/http"
	"time"
)

// Timeouts are the per-progress deadlines Deadlines applies. A zero field disables its deadline.
type Timeouts struct {
	// Read is how long a read of the request body may wait for the next bytes.
	Read time.Duration
	// Write is how long a write of the response may wait for the client to take the bytes.
	Write time.Duration
}

// Deadlines bounds every read of a request body and every write of a response by a deadline
// that moves forward with progress, through http.ResponseController. http.Server's ReadTimeout
// and WriteTimeout bound the whole request instead, which cuts a large push or pull that is
// still moving; these cut only a client that stalls: one that sends headers and then no body,
// or stops reading what it asked for.
func Deadlines(t Timeouts, next http.Handler) http.Handler {
	if t.Read <= 0 && t.Write <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dw := &deadlineWriter{ResponseWriter: w, timeout: t.Write}
		// The controller lives in the writer: one allocation per request, not two.
		dw.rc = *http.NewResponseController(w)
		rc := &dw.rc
		// No deadline is set before the first write: net/http clears the write deadline after
		// each request (HTTP/2 streams start without one), and the first Write, Flush or ReadFrom
		// sets it, as the end of the handler does when it wrote nothing. A clock read fewer on
		// every request.
		var body *deadlineBody
		if t.Read > 0 && r.Body != nil && r.Body != http.NoBody {
			body = &deadlineBody{ReadCloser: r.Body, rc: rc, timeout: t.Read}
			body.extend(true)
			r.Body = body
		}
		next.ServeHTTP(dw, r)
		// net/http flushes the buffered end of the response, and discards what is left of an
		// unread body, after the handler returns: give both a fresh deadline.
		dw.extend(false)
		if body != nil && !body.done {
			body.extend(false)
		}
	})
}

// deadlineBody moves the connection's read deadline forward before each read of the body.
type deadlineBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	timeout  time.Duration
	deadline time.Time
	done     bool
}

// extend sets the read deadline to now+timeout; unless forced, only once a sixteenth of the
// current one is spent, so a body read in many small pieces does not reset it on every read.
// A stall is thus cut after 15/16 to all of the timeout.
// time.Until reads only the monotonic clock (the deadline keeps its reading), which costs half
// of time.Now: it runs before every write.
func (b *deadlineBody) extend(force bool) {
	if !force && time.Until(b.deadline) > b.timeout-b.timeout/16 {
		return
	}
	b.deadline = time.Now().Add(b.timeout)
	_ = b.rc.SetReadDeadline(b.deadline) // unsupported (a test recorder): no deadline
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	b.extend(false)
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		// At the body's end net/http starts a background read to notice the client leaving;
		// a deadline would end it and cancel the request's context while the handler works.
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil:
		// Timed out (or failed): the deadline stays spent, so net/http's discard of the rest
		// of the body fails at once and the connection is closed.
		b.done = true
	}
	return n, err
}

// deadlineWriter moves the connection's write deadline forward before each write.
type deadlineWriter struct {
	http.ResponseWriter
	rc       http.ResponseController
	timeout  time.Duration
	deadline time.Time
}

// extend is deadlineBody.extend for the write deadline.
func (w *deadlineWriter) extend(force bool) {
	if w.timeout <= 0 {
		return
	}
	if !force && time.Until(w.deadline) > w.timeout-w.timeout/16 {
		return
	}
	w.deadline = time.Now().Add(w.timeout)
	_ = w.rc.SetWriteDeadline(w.deadline)
}

// Write sends p in steps of at most sendChunk, each under a (nearly) fresh deadline: one large
// Write (a whole file from memory) is a long download too.
func (w *deadlineWriter) Write(p []byte) (int, error) {
	total := 0
	for {
		w.extend(false)
		n, err := w.ResponseWriter.Write(p[:min(len(p), sendChunk)])
		total += n
		p = p[n:]
		if err != nil || len(p) == 0 {
			return total, err
		}
	}
}

// Flush extends the deadline before the buffered bytes go out.
func (w *deadlineWriter) Flush() {
	w.extend(false)
	_ = w.rc.Flush()
}

// sendChunk is how much one write step may send under one deadline: a client must take
// 512 KiB per write timeout (8.7 KiB/s with the default minute) to keep a download going.
const sendChunk = 512 << 10

// ReadFrom sends r in steps, each under a fresh deadline, so a large download is cut only when
// it stalls. Each step still reaches the server's ReadFrom, which splices a file or pipe into
// the socket (an io.LimitedReader keeps that path).
func (w *deadlineWriter) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	if !ok || w.timeout <= 0 {
		if ok {
			return rf.ReadFrom(r)
		}
		return io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	}
	var total int64
	for {
		w.extend(true)
		n, err := rf.ReadFrom(io.LimitReader(r, sendChunk))
		total += n
		if err != nil || n < sendChunk {
			return total, err
		}
	}
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
