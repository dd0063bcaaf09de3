package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			_, _ = io.WriteString(w, r.URL.Query().Get("msg"))
		case "/method":
			body, _ := io.ReadAll(r.Body)
			_, _ = io.WriteString(w, r.Method+" "+string(body)+" "+r.Header.Get("X-Test"))
		case "/slow":
			// No answer until the client gives up (or the server closes): only the client's --max-time ends it.
			<-r.Context().Done()
		case "/redirect":
			http.Redirect(w, r, "/echo?msg=redirected", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "http://" + l.Addr().String() + "/"
	}()
	out := filepath.Join(t.TempDir(), "out")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantFile   string
	}{
		{name: "plain get as the lifecycle hook specs run it", args: []string{srv.URL + "/echo?msg=poststart"},
			wantStdout: "poststart"},
		{name: "as sig-network's pod checks run it (test/e2e/framework/network)", args: []string{"-g", "-q", "-s", "--max-time", "15", "--connect-timeout", "1", srv.URL + "/echo?msg=net"},
			wantStdout: "net"},
		{name: "combined short flags", args: []string{"-sSf", srv.URL + "/echo?msg=hi"}, wantStdout: "hi"},
		{name: "no scheme means http", args: []string{strings.TrimPrefix(srv.URL, "http://") + "/echo?msg=x"},
			wantStdout: "x"},
		{name: "not found without --fail prints the body", args: []string{"-s", srv.URL + "/missing"},
			wantStdout: "404 page not found\n"},
		{name: "not found with --fail", args: []string{"-sf", srv.URL + "/missing"}, wantCode: exitHTTPFailure},
		{name: "write-out http_code", args: []string{"-s", "-o", "/dev/null", "-w", "%{http_code}", srv.URL + "/missing"},
			wantStdout: "404"},
		{name: "output to a file", args: []string{"-s", "--output=" + out, srv.URL + "/echo?msg=file"}, wantFile: "file"},
		{name: "post with data and a header", args: []string{"-s", "-d", "a=1", "-H", "X-Test: yes", srv.URL + "/method"},
			wantStdout: "POST a=1 yes"},
		{name: "request method", args: []string{"-s", "-X", "PUT", srv.URL + "/method"}, wantStdout: "PUT  "},
		{name: "redirect not followed", args: []string{"-s", "-o", "/dev/null", "-w", "%{http_code}", srv.URL + "/redirect"},
			wantStdout: "302"},
		{name: "redirect followed with -L", args: []string{"-sL", srv.URL + "/redirect"}, wantStdout: "redirected"},
		{name: "timeout", args: []string{"-s", "-m", "0.2", srv.URL + "/slow"}, wantCode: exitTimeout},
		{name: "connection refused", args: []string{"-s", closed}, wantCode: exitConnect},
		{name: "malformed URL", args: []string{"-s", "ftp://x/"}, wantCode: exitURL},
		{name: "from a local address, as the hostPort spec runs it", args: []string{"-g", "--connect-timeout", "5", "--interface", "127.0.0.1", srv.URL + "/echo?msg=bound"},
			wantStdout: "bound"},
		{name: "from an interface by name", args: []string{"-s", "--interface", "lo", srv.URL + "/echo?msg=lo"}, wantStdout: "lo"},
		{name: "from an interface that does not exist", args: []string{"-s", "--interface", "nosuchif0", srv.URL}, wantCode: exitInterface},
		{name: "unknown option", args: []string{"--frobnicate", srv.URL}, wantCode: exitUsage},
		{name: "no URL", args: []string{"-s"}, wantCode: exitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Fatalf("exit code %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if tc.wantCode == exitOK && stdout.String() != tc.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.wantStdout)
			}
			if tc.wantFile != "" {
				got, err := os.ReadFile(out)
				if err != nil || string(got) != tc.wantFile {
					t.Errorf("output file %q (%v), want %q", got, err, tc.wantFile)
				}
			}
		})
	}
}
