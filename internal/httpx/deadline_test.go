package httpx_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/httpx"
)

// TestWriteDeadlineAcrossRequests: a client that stops reading the second answer on a kept-alive
// connection is cut, also after a handler set the connection's deadline itself (to none).
func TestWriteDeadlineAcrossRequests(t *testing.T) {
	const timeout = 300 * time.Millisecond
	big := make([]byte, 32<<20) // more than the kernel buffers of both ends hold
	bigDone := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/foreign", func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, err := w.Write(big)
		bigDone <- err
	})
	srv := httptest.NewUnstartedServer(httpx.Deadlines(httpx.Timeouts{Write: timeout}, mux))
	srv.Start()
	t.Cleanup(srv.Close)
	for _, first := range []string{"/small", "/foreign"} {
		t.Run(first, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(conn)
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", first)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			fmt.Fprintf(conn, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
			if _, err := br.Peek(1); err != nil {
				t.Fatal(err)
			}
			// The client reads no more: the handler's write must time out.
			select {
			case err := <-bigDone:
				if err == nil {
					t.Fatal("the stalled client took all the bytes")
				}
			case <-time.After(20 * time.Second):
				t.Fatal("a client that stopped reading was not cut within 20s")
			}
		})
	}
}
