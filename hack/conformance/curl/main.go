// Command curl is the small curl of Berth's offline stand-in for the agnhost test image (see
// hack/conformance/images.sh). Upstream's agnhost image is Alpine with curl installed, and conformance specs run
// it in agnhost containers (lifecycle hooks: sh -c "curl http://IP:8080/echo?msg=poststart"). Debian's curl is
// not static, so this program speaks the subset of curl those specs and their kin use: HTTP(S) requests with
// curl's common flags, the body on stdout, and curl's exit codes (6 resolve, 7 connect, 22 --fail, 28 timeout).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// curl's exit codes (man curl, EXIT CODES).
const (
	exitOK          = 0
	exitUsage       = 2
	exitURL         = 3
	exitResolve     = 6
	exitConnect     = 7
	exitWrite       = 23
	exitHTTPFailure = 22
	exitTimeout     = 28
	exitOther       = 56
	exitInterface   = 45
)

type options struct {
	urls           []string
	method         string
	data           []string
	headers        []string
	output         string
	writeOut       string
	silent         bool
	showError      bool
	fail           bool
	include        bool
	head           bool
	location       bool
	insecure       bool
	verbose        bool
	maxTime        time.Duration
	connectTimeout time.Duration
	// iface is --interface: the local address (or the interface whose address) connections go out from.
	iface string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "curl: %v\n", err)
		return exitUsage
	}
	if len(o.urls) == 0 {
		fmt.Fprintln(stderr, "curl: no URL specified")
		return exitUsage
	}
	out := stdout
	if o.output != "" && o.output != "-" {
		f, err := os.Create(o.output)
		if err != nil {
			fmt.Fprintf(stderr, "curl: (23) %v\n", err)
			return exitWrite
		}
		defer f.Close()
		out = f
	}
	code := exitOK
	for _, u := range o.urls {
		if c := fetch(o, u, out, stdout, stderr); c != exitOK {
			code = c
		}
	}
	return code
}

// parse reads curl's command line: short flags may be combined (-sSf), values may follow a flag or be joined to
// it (-o file, -ofile, --output=file).
func parse(args []string) (options, error) {
	o := options{}
	withValue := map[string]bool{
		"-X": true, "--request": true, "-d": true, "--data": true, "--data-raw": true, "--data-binary": true,
		"-H": true, "--header": true, "-o": true, "--output": true, "-w": true, "--write-out": true,
		"-m": true, "--max-time": true, "--connect-timeout": true, "-A": true, "--user-agent": true,
		"--retry": true, "--retry-delay": true, "--retry-max-time": true, "-u": true, "--user": true,
		"--cacert": true, "--resolve": true, "--noproxy": true, "--interface": true,
	}
	set := func(flag, value string) error {
		switch flag {
		case "-X", "--request":
			o.method = value
		case "-d", "--data", "--data-raw", "--data-binary":
			o.data = append(o.data, value)
		case "-H", "--header":
			o.headers = append(o.headers, value)
		case "-o", "--output":
			o.output = value
		case "-w", "--write-out":
			o.writeOut = value
		case "-m", "--max-time", "--connect-timeout":
			secs, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return fmt.Errorf("option %s: expected a number, got %q", flag, value)
			}
			d := time.Duration(secs * float64(time.Second))
			if flag == "--connect-timeout" {
				o.connectTimeout = d
			} else {
				o.maxTime = d
			}
		case "-A", "--user-agent":
			o.headers = append(o.headers, "User-Agent: "+value)
		case "--interface":
			o.iface = value
		}
		// --retry*, -u, --cacert, --resolve, --noproxy: accepted and ignored.
		return nil
	}
	setBool := func(flag string) error {
		switch flag {
		case "-s", "--silent":
			o.silent = true
		case "-S", "--show-error":
			o.showError = true
		case "-f", "--fail":
			o.fail = true
		case "-i", "--include":
			o.include = true
		case "-I", "--head":
			o.head = true
		case "-L", "--location":
			o.location = true
		case "-k", "--insecure":
			o.insecure = true
		case "-v", "--verbose":
			o.verbose = true
		// -g (no URL globbing): this curl never globs.
		case "-q", "--disable", "-N", "--no-buffer", "--compressed", "-4", "--ipv4", "-6", "--ipv6", "--http1.1", "-g", "--globoff":
		default:
			return fmt.Errorf("option %s: is unknown", flag)
		}
		return nil
	}
	var i int
	// nextValue takes the argument after an option that needs one.
	nextValue := func(option string) (string, error) {
		if i+1 >= len(args) {
			return "", fmt.Errorf("option %s: requires parameter", option)
		}
		i++
		return args[i], nil
	}
	for i = 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			o.urls = append(o.urls, args[i+1:]...)
			return o, nil
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a, "=")
			if withValue[name] {
				if !hasValue {
					var err error
					if value, err = nextValue(name); err != nil {
						return o, err
					}
				}
				if err := set(name, value); err != nil {
					return o, err
				}
				continue
			}
			if err := setBool(a); err != nil {
				return o, err
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				flag := "-" + string(a[j])
				if withValue[flag] {
					value := a[j+1:]
					if value == "" {
						var err error
						if value, err = nextValue(flag); err != nil {
							return o, err
						}
					}
					if err := set(flag, value); err != nil {
						return o, err
					}
					break
				}
				if err := setBool(flag); err != nil {
					return o, err
				}
			}
		default:
			o.urls = append(o.urls, a)
		}
	}
	return o, nil
}

func fetch(o options, rawURL string, out, stdout, stderr io.Writer) int {
	fail := func(code int, format string, args ...any) int {
		if !o.silent || o.showError {
			fmt.Fprintf(stderr, "curl: (%d) %s\n", code, fmt.Sprintf(format, args...))
		}
		return code
	}
	if !strings.Contains(rawURL, "://") {
		rawURL = "http://" + rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fail(exitURL, "URL rejected: Malformed input to a URL function")
	}
	method := o.method
	var body io.Reader
	if len(o.data) > 0 {
		body = strings.NewReader(strings.Join(o.data, "&"))
		if method == "" {
			method = http.MethodPost
		}
	}
	if o.head && method == "" {
		method = http.MethodHead
	}
	if method == "" {
		method = http.MethodGet
	}
	ctx := context.Background()
	if o.maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.maxTime)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fail(exitURL, "%v", err)
	}
	req.Header.Set("User-Agent", "curl/8.12.1")
	req.Header.Set("Accept", "*/*")
	if len(o.data) > 0 {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range o.headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	connectTimeout := o.connectTimeout
	if connectTimeout == 0 {
		connectTimeout = 300 * time.Second
	}
	dialer := &net.Dialer{Timeout: connectTimeout}
	if o.iface != "" {
		ip, err := localAddress(o.iface)
		if err != nil {
			fmt.Fprintf(stderr, "curl: (%d) Failed binding local connection end: %v\n", exitInterface, err)
			return exitInterface
		}
		dialer.LocalAddr = &net.TCPAddr{IP: ip}
	}
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:           http.ProxyFromEnvironment,
			DialContext:     dialer.DialContext,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: o.insecure}, //nolint:gosec // curl -k asks for it.
		},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			if o.location {
				return nil
			}
			return http.ErrUseLastResponse
		},
	}
	if o.verbose {
		fmt.Fprintf(stderr, "> %s %s HTTP/1.1\n> Host: %s\n", method, u.RequestURI(), u.Host)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail(classify(err), "%v", err)
	}
	defer resp.Body.Close()
	if o.verbose {
		fmt.Fprintf(stderr, "< %s %s\n", resp.Proto, resp.Status)
	}
	if o.fail && resp.StatusCode >= 400 {
		return fail(exitHTTPFailure, "The requested URL returned error: %d", resp.StatusCode)
	}
	if o.include || o.head {
		fmt.Fprintf(out, "%s %s\r\n", resp.Proto, resp.Status)
		_ = resp.Header.Write(out)
		fmt.Fprint(out, "\r\n")
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fail(exitTimeout, "Operation timed out")
		}
		return fail(exitOther, "Failure when receiving data from the peer: %v", err)
	}
	if o.writeOut != "" {
		w := strings.NewReplacer(`%{http_code}`, fmt.Sprintf("%03d", resp.StatusCode),
			`%{response_code}`, fmt.Sprintf("%03d", resp.StatusCode), `\n`, "\n").Replace(o.writeOut)
		fmt.Fprint(stdout, w)
	}
	return exitOK
}

// classify maps a request error to curl's exit code.
func classify(err error) int {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded), os.IsTimeout(err):
		return exitTimeout
	case errors.As(err, &dnsErr):
		return exitResolve
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return exitConnect
	default:
		return exitOther
	}
}

// localAddress is curl's --interface: an address ("host!" before it allowed), or an interface name ("if!" before
// it allowed), whose first IPv4 address (else its first) is taken.
func localAddress(spec string) (net.IP, error) {
	spec = strings.TrimPrefix(strings.TrimPrefix(spec, "host!"), "if!")
	if ip := net.ParseIP(spec); ip != nil {
		return ip, nil
	}
	ifc, err := net.InterfaceByName(spec)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", spec, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return nil, fmt.Errorf("addresses of %q: %w", spec, err)
	}
	var first net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if n.IP.To4() != nil {
				return n.IP, nil
			}
			if first == nil {
				first = n.IP
			}
		}
	}
	if first == nil {
		return nil, fmt.Errorf("interface %q has no address", spec)
	}
	return first, nil
}
