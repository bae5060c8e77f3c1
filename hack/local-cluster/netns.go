package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// nsDialer opens connections from inside a network namespace while the rest
// of the process stays in the host's: each dial runs on an OS thread that is
// moved into the namespace and thrown away afterwards (its goroutine ends
// locked, so the Go runtime terminates the thread).
type nsDialer struct{ path string }

func (d nsDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd, err := unix.Open(d.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{err: fmt.Errorf("opening network namespace %s: %w", d.path, err)}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("entering network namespace %s: %w", d.path, err)}
			return
		}
		var nd net.Dialer
		c, err := nd.DialContext(ctx, network, addr)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// httpGet fetches url from inside the namespace; it returns the status code
// and body.
func (d nsDialer) httpGet(url string, client *http.Client) (int, string, error) {
	if client == nil {
		client = &http.Client{}
	}
	if client.Transport == nil {
		client.Transport = &http.Transport{DialContext: d.DialContext}
	}
	client.Timeout = 5 * time.Second
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), nil
}

// forward listens on the host's loopback and forwards each connection to
// target inside the namespace, so host clients (kubectl with the printed
// kubeconfig) reach the apiserver without it listening outside its namespace.
func forward(ctx context.Context, listen, target string, d nsDialer) error {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	go func() { <-ctx.Done(); l.Close() }()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			u, err := d.DialContext(dctx, "tcp", target)
			cancel()
			if err != nil {
				return
			}
			defer u.Close()
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(u, c); u.(*net.TCPConn).CloseWrite() }()
			go func() { defer wg.Done(); io.Copy(c, u); c.(*net.TCPConn).CloseWrite() }()
			wg.Wait()
		}()
	}
}
