// Command benchserve runs the servers bench/run measures, on 127.0.0.1:
//
//	benchserve gatehouse -addr-file F [-pprof-file P]   Gatehouse, configured like `gatehouse serve`
//	                                                   (GATEHOUSE_* environment), built from the
//	                                                   same internal/server, plus net/http/pprof
//	                                                   on a second loopback port
//	benchserve files -dir D -addr-file F               Go's http.FileServer over D (a baseline)
//	benchserve bare -file F -addr-file A               a bare net/http handler that answers every
//	                                                   request with F's bytes, read once into
//	                                                   memory (the generic GET's floor)
//	benchserve freeport                                prints a free loopback port (for servers
//	                                                   that need one in their configuration)
//
// Each listens on a free port and writes its address ("127.0.0.1:port") to -addr-file once it
// accepts connections. Gatehouse's external URL defaults to that address, so the URLs it
// writes into npm packuments and Location headers work. The pprof listener serves
// /debug/pprof/ only; its address goes to -pprof-file. Both stop on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchserve gatehouse|files|bare|freeport [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "gatehouse":
		err = runGatehouse(ctx, os.Args[2:])
	case "files":
		err = runFiles(ctx, os.Args[2:])
	case "bare":
		err = runBare(ctx, os.Args[2:])
	case "freeport":
		err = freePort()
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "benchserve:", err)
		os.Exit(1)
	}
}

func runGatehouse(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gatehouse", flag.ExitOnError)
	addrFile := fs.String("addr-file", "", "file to write the listen address to")
	pprofFile := fs.String("pprof-file", "", "file to write the pprof listen address to (none: no pprof)")
	_ = fs.Parse(args)
	cfg, err := config.Load(nil, os.Getenv)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cfg.Listen = l.Addr().String()
	if os.Getenv("GATEHOUSE_EXTERNAL_URL") == "" {
		cfg.ExternalURL = "http://" + cfg.Listen
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	srv, err := server.New(ctx, cfg, server.Options{})
	if err != nil {
		return err
	}
	defer srv.Close()
	if *pprofFile != "" {
		pl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		ps := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ps.Serve(pl) }()
		defer ps.Close()
		if err := os.WriteFile(*pprofFile, []byte(pl.Addr().String()), 0o600); err != nil {
			return err
		}
	}
	if err := writeAddr(*addrFile, l.Addr()); err != nil {
		return err
	}
	return srv.Serve(ctx, l)
}

func runFiles(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("files", flag.ExitOnError)
	dir := fs.String("dir", ".", "directory to serve")
	addrFile := fs.String("addr-file", "", "file to write the listen address to")
	_ = fs.Parse(args)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	return serveBaseline(ctx, l, http.FileServer(http.Dir(*dir)), *addrFile)
}

// runBare serves one file's bytes from memory with nothing else: no routing, no logging, no
// file system. It is what any Go server pays for the same answer over HTTP/1.1.
func runBare(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bare", flag.ExitOnError)
	file := fs.String("file", "", "file whose bytes every answer carries")
	addrFile := fs.String("addr-file", "", "file to write the listen address to")
	_ = fs.Parse(args)
	body, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	length := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", length)
		_, _ = w.Write(body)
	})
	return serveBaseline(ctx, l, h, *addrFile)
}

// serveBaseline serves h on l until ctx ends, after writing l's address to addrFile.
func serveBaseline(ctx context.Context, l net.Listener, h http.Handler, addrFile string) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	if err := writeAddr(addrFile, l.Addr()); err != nil {
		return err
	}
	return hs.Serve(l)
}

func freePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

// writeAddr writes the address through a temporary file and a rename, so a reader polling for
// the file never sees it half written.
func writeAddr(file string, a net.Addr) error {
	if file == "" {
		fmt.Println(a.String())
		return nil
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(a.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
