package server_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// The short per-progress timeouts the slow-client tests run with.
const (
	testReadTimeout  = 400 * time.Millisecond
	testWriteTimeout = 400 * time.Millisecond
)

// shortTimeouts shrinks the read and write timeouts; the header timeout stays long, so only the
// timeout under test can end a connection.
func shortTimeouts(c *config.Config) {
	c.HTTP.ReadTimeout, c.HTTP.WriteTimeout, c.HTTP.ReadHeaderTimeout = testReadTimeout, testWriteTimeout, 30*time.Second
}

// slowClient is a raw TCP connection to the test server.
type slowClient struct {
	t    *testing.T
	conn net.Conn
	host string
}

func dial(t *testing.T, ts *testenv.TestServer) *slowClient {
	t.Helper()
	host := strings.TrimPrefix(ts.URL, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &slowClient{t: t, conn: conn, host: host}
}

// headers sends a request line and headers for a body of size bytes, authenticated by auth
// (a header line).
func (c *slowClient) headers(method, path, auth string, size int) {
	c.t.Helper()
	fmt.Fprintf(c.conn, "%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
		method, path, c.host, auth, size)
}

// closedWithin reports how long the server took to end the connection (reading and dropping
// any answer), failing the test if it is still open after limit.
func (c *slowClient) closedWithin(limit time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	_ = c.conn.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c.conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("the server kept the connection open for %v", limit)
	}
	return time.Since(start)
}

func genericPath(ts *testenv.TestServer, projectID int64, file string) string {
	return fmt.Sprintf("/api/v4/projects/%d/packages/generic/slow/1.0.0/%s", projectID, file)
}

// TestStalledUploadIsCut: a client that sends an upload's headers and then no body is
// disconnected once the read timeout passes without a byte, long before the header timeout.
func TestStalledUploadIsCut(t *testing.T) {
	ts := testenv.StartServer(t, shortTimeouts)
	f := ts.MakeFixture(t)
	pat := "PRIVATE-TOKEN: " + ts.RootToken
	// A personal access token rather than the password: bcrypt under -race on a loaded machine
	// takes seconds, which would only blur the timing.
	basic := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("root:"+ts.RootToken))
	for _, c := range []struct{ name, method, path, auth string }{
		{"generic package upload", "PUT", genericPath(ts, f.Projects["top"].ID, "stalled.bin"), pat},
		{"registry blob upload", "PATCH", registryUpload(t, ts), "Authorization: Bearer " + registryToken(t, ts)},
		{"git push", "POST", "/group/top.git/git-receive-pack", basic},
		{"API request body", "POST", "/api/v4/groups", pat},
	} {
		t.Run("fail/"+c.name, func(t *testing.T) {
			cl := dial(t, ts)
			cl.headers(c.method, c.path, c.auth, 1<<20)
			// Generous for a loaded machine; without the deadline the connection never closes.
			if took := cl.closedWithin(25 * testReadTimeout); took < testReadTimeout/2 {
				t.Fatalf("closed after %v, before the read timeout", took)
			}
		})
	}
}

// registryToken is a push token for group/top, minted for root.
func registryToken(t *testing.T, ts *testenv.TestServer) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/jwt/auth?service=container_registry&scope=repository:group/top:push,pull", nil)
	req.SetBasicAuth("root", ts.RootToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" {
		t.Fatalf("/jwt/auth: %d %v", resp.StatusCode, err)
	}
	return body.Token
}

// registryUpload starts a blob upload in group/top and returns its location's path.
func registryUpload(t *testing.T, ts *testenv.TestServer) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v2/group/top/blobs/uploads/", nil)
	req.Header.Set("Authorization", "Bearer "+registryToken(t, ts))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusAccepted || loc == "" {
		t.Fatalf("start upload: %d %q", resp.StatusCode, loc)
	}
	return strings.TrimPrefix(loc, ts.URL)
}

// TestSteadySlowUploadCompletes: an upload that trickles for many read timeouts, but never
// waits a whole one between reads, is stored whole.
func TestSteadySlowUploadCompletes(t *testing.T) {
	ts := testenv.StartServer(t, shortTimeouts)
	f := ts.MakeFixture(t)
	body := make([]byte, 24<<10)
	_, _ = rand.Read(body)
	path := genericPath(ts, f.Projects["top"].ID, "steady.bin")
	cl := dial(t, ts)
	cl.headers("PUT", path, "PRIVATE-TOKEN: "+ts.RootToken, len(body))
	start := time.Now()
	for off := 0; off < len(body); off += 1 << 10 {
		time.Sleep(testReadTimeout / 4)
		if _, err := cl.conn.Write(body[off : off+1<<10]); err != nil {
			t.Fatalf("after %v: %v", time.Since(start), err)
		}
	}
	if took := time.Since(start); took < 4*testReadTimeout {
		t.Fatalf("the upload took %v, not several read timeouts", took)
	}
	_ = cl.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(cl.conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	req.Header.Set("PRIVATE-TOKEN", ts.RootToken)
	got, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	if b, _ := io.ReadAll(got.Body); !bytes.Equal(b, body) {
		t.Fatalf("stored %d bytes, want the %d uploaded", len(b), len(body))
	}
}

// TestDownloadWriteTimeout: a download read slowly but steadily for many write timeouts
// completes; one whose client stops reading is cut after the write timeout.
func TestDownloadWriteTimeout(t *testing.T) {
	ts := testenv.StartServer(t, shortTimeouts)
	f := ts.MakeFixture(t)
	body := make([]byte, 16<<20) // more than the kernel buffers of both ends hold
	_, _ = rand.Read(body)
	path := genericPath(ts, f.Projects["top"].ID, "big.bin")
	req, _ := http.NewRequest(http.MethodPut, ts.URL+path, bytes.NewReader(body))
	req.Header.Set("PRIVATE-TOKEN", ts.RootToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	get := func(t *testing.T) (*slowClient, *bufio.Reader) {
		cl := dial(t, ts)
		fmt.Fprintf(cl.conn, "GET %s HTTP/1.1\r\nHost: %s\r\nPRIVATE-TOKEN: %s\r\n\r\n", path, cl.host, ts.RootToken)
		return cl, bufio.NewReaderSize(cl.conn, 16<<10)
	}

	t.Run("ok/steady slow reader gets every byte", func(t *testing.T) {
		cl, br := get(t)
		_ = cl.conn.SetReadDeadline(time.Now().Add(time.Minute))
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("download: %v %v", resp, err)
		}
		start, got, buf := time.Now(), 0, make([]byte, 256<<10)
		for {
			n, err := io.ReadFull(resp.Body, buf)
			got += n
			if err != nil {
				break
			}
			time.Sleep(testWriteTimeout / 8)
		}
		if got != len(body) {
			t.Fatalf("got %d of %d bytes after %v", got, len(body), time.Since(start))
		}
		if took := time.Since(start); took < 4*testWriteTimeout {
			t.Fatalf("the download took %v, not several write timeouts", took)
		}
	})
	t.Run("fail/stalled reader is cut", func(t *testing.T) {
		cl, br := get(t)
		if _, err := br.Peek(1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * testWriteTimeout) // stop reading: the server's writes block, then time out
		_ = cl.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, _ := io.Copy(io.Discard, br)
		if n >= int64(len(body)) {
			t.Fatalf("the stalled client still got all %d bytes", n)
		}
	})
}

// TestConnectionCapPerIP: with N connections open from one address, connection N+1 is answered
// 503 and closed; once one closes, a new one is served.
func TestConnectionCapPerIP(t *testing.T) {
	const capN = 3
	ts := testenv.StartServer(t, func(c *config.Config) {
		c.HTTP.MaxConnsPerIP, c.HTTP.ExemptLoopback = capN, false
	})
	var open []*slowClient
	for range capN {
		cl := dial(t, ts)
		open = append(open, cl)
	}
	health := func(cl *slowClient) (string, error) {
		fmt.Fprintf(cl.conn, "GET /-/health HTTP/1.1\r\nHost: %s\r\n\r\n", cl.host)
		_ = cl.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(cl.conn), nil)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		return resp.Status, nil
	}
	// The open connections are served (and so accepted and counted).
	for _, cl := range open {
		if st, err := health(cl); err != nil || st != "200 OK" {
			t.Fatalf("connection within the cap: %q %v", st, err)
		}
	}
	over := dial(t, ts)
	_ = over.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(over.conn)
	if err != nil || !strings.HasPrefix(string(b), "HTTP/1.1 503 ") {
		t.Fatalf("connection %d: %q, %v; want a 503 and close", capN+1, b, err)
	}
	open[0].conn.Close()
	var st string
	if !testenv.Eventually(5*time.Second, func() bool {
		st, err = health(dial(t, ts))
		return err == nil && st == "200 OK"
	}) {
		t.Fatalf("after one connection closed, a new one got %q %v", st, err)
	}
}
