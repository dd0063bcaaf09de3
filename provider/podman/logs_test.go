package podman

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func logFrame(stream byte, s string) []byte {
	hdr := []byte{stream, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(s)))
	return append(hdr, s...)
}

type failingWriter struct{ writes int }

func (f *failingWriter) Write(p []byte) (int, error) {
	f.writes++
	return 0, errors.New("client went away")
}

// TestCopyLogs: stdout and stderr frames come out in order and gathered into few writes; a failing writer ends the
// copy at once (the stream is not drained), and an error frame from Podman becomes the error.
func TestCopyLogs(t *testing.T) {
	var in bytes.Buffer
	var want strings.Builder
	for i := 0; i < 1000; i++ {
		l := fmt.Sprintf("line %d\n", i)
		in.Write(logFrame(byte(1+i%2), l))
		want.WriteString(l)
	}
	var out bytes.Buffer
	if err := copyLogs(&out, bytes.NewReader(in.Bytes())); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Errorf("copied %q", out.String())
	}

	fw := &failingWriter{}
	r := &countingReader{r: bytes.NewReader(bytes.Repeat(in.Bytes(), 100))}
	err := copyLogs(fw, r)
	var we writeError
	if !errors.As(err, &we) || fw.writes != 1 {
		t.Errorf("failing writer: %v after %d writes", err, fw.writes)
	}
	if r.n > 2*logBufferSize {
		t.Errorf("read %d bytes after the writer failed", r.n)
	}

	err = copyLogs(io.Discard, bytes.NewReader(append(logFrame(1, "a\n"), logFrame(3, "no such container")...)))
	if err == nil || !strings.Contains(err.Error(), "no such container") {
		t.Errorf("error frame: %v", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
